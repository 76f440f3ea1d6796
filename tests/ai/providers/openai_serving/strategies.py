"""Hypothesis strategies and checks shared by the serving package's property tests."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from ai.providers.openai_serving import OpenAIRequestError

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


def assert_well_formed(error: OpenAIRequestError) -> None:
    """What a server needs to answer a refusal: a status, a message, a JSON body."""
    assert error.status == 400
    assert isinstance(error.message, str)
    assert error.message
    assert error.param is None or isinstance(error.param, str)
    assert json.loads(json.dumps(error.body()))["error"]["message"] == error.message
