"""The error tree: key redaction, error types, and which errors a fallback can fix."""

from __future__ import annotations

import builtins

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from ai import errors
from ai.errors import (
    AllModelsFailedError,
    AuthenticationError,
    CircuitOpenError,
    ConfigurationError,
    ContextLengthError,
    DevoraError,
    InvalidResponseError,
    ModelNotFoundError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    StreamInterruptedError,
    mask_secret,
    mask_url,
    redact,
    url_secrets,
)

KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
OPENAI_KEY = "sk-proj-Abc123def456GHI789jkl012"
ANTHROPIC_KEY = "sk-ant-api03-Zyx987Wvu654Tsr321"
OPENROUTER_KEY = "sk-or-v1-0123456789abcdef0123456789abcdef"

ALL_PROVIDER_ERRORS: list[type[ProviderError]] = [
    ProviderError,
    AuthenticationError,
    RateLimitError,
    ProviderTimeoutError,
    ProviderConnectionError,
    ModelNotFoundError,
    ContextLengthError,
    OverloadedError,
    InvalidResponseError,
    StreamInterruptedError,
    CircuitOpenError,
]


def make(cls: type[ProviderError], message: str, **kwargs: object) -> ProviderError:
    return cls(message, **kwargs)  # type: ignore[arg-type]


# --- mask_secret / redact -----------------------------------------------------------------


def test_mask_secret_shows_at_most_three_characters_each_side() -> None:
    assert mask_secret(OPENAI_KEY) == "sk-...012"
    assert mask_secret("abcdefghijkl") == "abc...jkl"
    assert mask_secret("short") == "***"
    assert mask_secret("") == "<unset>"
    assert mask_secret(None) == "<unset>"


@pytest.mark.parametrize("key", [OPENAI_KEY, ANTHROPIC_KEY, OPENROUTER_KEY, "sk-abcdef"])
def test_key_shaped_strings_are_masked(key: str) -> None:
    text = f"Incorrect API key provided: {key}. You can find your key at ..."
    redacted = redact(text)
    assert key not in redacted
    assert redacted.startswith("Incorrect API key provided: ")
    assert redacted.endswith(". You can find your key at ...")


def test_bearer_tokens_are_masked() -> None:
    redacted = redact("sent header Authorization: Bearer abc.def-ghi_jkl012 and failed")
    assert "abc.def-ghi_jkl012" not in redacted
    assert redacted.startswith("sent header Authorization: ")
    assert redacted.endswith(" and failed")


def test_pinecone_keys_are_masked() -> None:
    assert "pcsk_abcdef123456" not in redact("key pcsk_abcdef123456 rejected")


def test_given_secrets_are_masked_whatever_their_shape() -> None:
    secret = "plain-looking-password-42"
    redacted = redact(f"connect failed for user:{secret}@host", [secret])
    assert secret not in redacted
    assert "user:" in redacted
    assert "@host" in redacted


def test_secrets_shorter_than_four_characters_are_not_replaced() -> None:
    # Masking "a" would mangle every message; such a short secret is not worth hiding.
    assert redact("a banana", ["a"]) == "a banana"


def test_overlapping_occurrences_of_a_secret_are_all_masked() -> None:
    secret = "xyzAAAAAAxyz"  # starts and ends with the same three characters
    text = "xyzAAAAAAxyzAAAAAAxyz"  # two overlapping occurrences
    assert secret not in redact(text, [secret])


@pytest.mark.parametrize(
    ("url", "masked", "secrets"),
    [
        ("http://user:pw-1234@host/v1", "http://user:***@host/v1", ("pw-1234",)),
        ("https://h/v1?key=AIzaSy-abc&alt=sse", "https://h/v1?key=***&alt=sse", ("AIzaSy-abc",)),
        ("https://h/v1?api-key=abcd&token=efgh", "https://h/v1?api-key=***&token=***", None),
        ("http://localhost:11434/v1", "http://localhost:11434/v1", ()),
        ("https://h/v1?monkey=1", "https://h/v1?monkey=1", ()),
    ],
)
def test_urls_are_shown_without_their_credentials(
    url: str, masked: str, secrets: tuple[str, ...] | None
) -> None:
    assert mask_url(url) == masked
    if secrets is not None:
        assert url_secrets(url) == secrets
    assert all(secret not in redact(f"at {url}", url_secrets(url)) for secret in secrets or ())


def test_ordinary_text_is_left_alone() -> None:
    text = "The model 'gpt-4o' does not exist; ask-me tasks-list risk-free"
    assert redact(text) == "The model 'gpt-4o' does not exist; ask-me tasks-list risk-free"


key_prefixes = st.sampled_from(["sk-", "sk-ant-api03-", "sk-or-v1-", "sk-proj-", "pcsk_"])
key_bodies = st.text(alphabet=KEY_CHARS, min_size=6, max_size=64)


@given(prefix=key_prefixes, body=key_bodies, before=st.text(), after=st.text())
@example(prefix="sk-", body="abcdef", before="", after="")
@example(prefix="sk-", body="abcdef", before="sk-", after="sk-")
def test_key_shaped_keys_never_survive_in_any_text(
    prefix: str, body: str, before: str, after: str
) -> None:
    key = prefix + body
    assert key not in redact(before + key + after)


@given(
    token=st.text(alphabet=KEY_CHARS + ".", min_size=6, max_size=64),
    before=st.text(),
    after=st.text(),
)
def test_bearer_tokens_never_survive_in_any_text(token: str, before: str, after: str) -> None:
    prefix = f"{before}Authorization: Bearer "
    assume(token not in prefix and token not in after)  # only the one occurrence
    assume("..." not in token)  # could read like the mask itself
    assert token not in redact(f"{prefix}{token}{after}")


@given(
    secret=st.text(alphabet=KEY_CHARS, min_size=4, max_size=40),
    pieces=st.lists(st.text(), min_size=1, max_size=4),
)
@example(secret="xyzAAAAAAxyz", pieces=["", "AAAAAAxyz"])
def test_given_secrets_never_survive_in_any_text(secret: str, pieces: list[str]) -> None:
    text = secret.join(pieces)
    assert secret not in redact(text, [secret])


@given(text=st.text())
def test_redact_never_raises_and_is_idempotent_on_its_output(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


# --- ProviderError and subclasses ----------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_PROVIDER_ERRORS)
def test_every_provider_error_redacts_message_and_provider_message(
    cls: type[ProviderError],
) -> None:
    error = make(
        cls,
        f"openai rejected key {OPENAI_KEY}",
        provider="openai",
        provider_message=f"Incorrect API key provided: {OPENAI_KEY}",
    )
    assert OPENAI_KEY not in str(error)
    assert OPENAI_KEY not in repr(error)
    assert error.provider_message is not None
    assert OPENAI_KEY not in error.provider_message
    assert "Incorrect API key provided" in error.provider_message
    assert "openai rejected key" in str(error)


def test_all_models_failed_redacts_its_own_message() -> None:
    inner = AuthenticationError("bad key", provider_message=f"bad key {ANTHROPIC_KEY}")
    error = AllModelsFailedError(f"all failed; last key {ANTHROPIC_KEY}", errors=[inner])
    assert ANTHROPIC_KEY not in str(error)
    assert error.provider_message is not None
    assert ANTHROPIC_KEY not in error.provider_message


def test_provider_error_keeps_its_details() -> None:
    error = RateLimitError(
        "slow down",
        provider="openrouter",
        model="openai/gpt-4o-mini",
        status=429,
        provider_message="Rate limit exceeded",
        retry_after=2.5,
    )
    assert (error.provider, error.model, error.status) == (
        "openrouter",
        "openai/gpt-4o-mini",
        429,
    )
    assert error.provider_message == "Rate limit exceeded"
    assert error.retry_after == 2.5


def test_empty_provider_message_is_none() -> None:
    assert ProviderError("x", provider_message="").provider_message is None
    assert ProviderError("x").provider_message is None


def test_whole_tree_descends_from_devora_error() -> None:
    for cls in [*ALL_PROVIDER_ERRORS, AllModelsFailedError, ConfigurationError]:
        assert issubclass(cls, DevoraError)
    for cls in ALL_PROVIDER_ERRORS:
        assert issubclass(cls, ProviderError)


def test_timeout_and_connection_errors_do_not_shadow_builtins_in_the_tree() -> None:
    # Catching the builtins must not swallow ours by accident, and vice versa.
    assert not issubclass(errors.ProviderTimeoutError, builtins.TimeoutError)
    assert not issubclass(errors.ProviderConnectionError, builtins.ConnectionError)
    assert "TimeoutError" not in errors.__dict__
    assert "ConnectionError" not in errors.__dict__


@pytest.mark.parametrize(
    ("old", "new"),
    [("TimeoutError", "ProviderTimeoutError"), ("ConnectionError", "ProviderConnectionError")],
)
def test_old_error_names_still_import_with_a_deprecation_warning(old: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=new):
        alias = getattr(errors, old)
    assert alias is getattr(errors, new)


def test_unknown_error_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="NoSuchError"):
        _ = errors.NoSuchError  # type: ignore[attr-defined]


def test_a_refused_call_is_its_own_branch_and_budgets_are_refusals() -> None:
    error = errors.BudgetExceededError("daily budget spent", guard="budget", retry_after=60.0)
    assert isinstance(error, errors.CallRefusedError)
    assert not isinstance(error, ProviderError)
    assert (error.guard, error.retry_after) == ("budget", 60.0)


@pytest.mark.parametrize(
    ("cls", "name"),
    [
        (ProviderError, "provider_error"),
        (AuthenticationError, "authentication"),
        (RateLimitError, "rate_limit"),
        (ProviderTimeoutError, "timeout"),
        (ProviderConnectionError, "connection"),
        (ModelNotFoundError, "model_not_found"),
        (ContextLengthError, "context_length"),
        (OverloadedError, "overloaded"),
        (InvalidResponseError, "invalid_response"),
        (StreamInterruptedError, "stream_interrupted"),
        (CircuitOpenError, "circuit_open"),
    ],
)
def test_error_type_names(cls: type[ProviderError], name: str) -> None:
    assert make(cls, "x").error_type == name


def test_unregistered_subclass_falls_back_to_provider_error_type() -> None:
    class PluginError(ProviderError):
        pass

    assert PluginError("x").error_type == "provider_error"


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (ProviderError, False),
        (AuthenticationError, False),
        (RateLimitError, True),
        (ProviderTimeoutError, True),
        (ProviderConnectionError, True),
        (ModelNotFoundError, False),
        (ContextLengthError, False),
        (OverloadedError, True),
        (InvalidResponseError, False),
        (StreamInterruptedError, False),
        (CircuitOpenError, False),
    ],
)
def test_retryable_defaults(cls: type[ProviderError], retryable: bool) -> None:
    assert make(cls, "x").retryable is retryable
    assert make(cls, "x", retryable=not retryable).retryable is (not retryable)


@pytest.mark.parametrize(
    ("error", "can_help"),
    [
        (AuthenticationError("x"), False),
        (ProviderError("bad request", status=400), False),
        (InvalidResponseError("x"), False),
        (StreamInterruptedError("x"), False),
        (RateLimitError("x"), True),
        (ProviderTimeoutError("x"), True),
        (ProviderConnectionError("x"), True),
        (OverloadedError("x"), True),
        (ModelNotFoundError("x"), True),
        (ContextLengthError("x"), True),
        (CircuitOpenError("x"), True),
        (ProviderError("server error", status=500, retryable=True), True),
        (CircuitOpenError("x", retryable=False), True),
    ],
)
def test_fallback_can_help(error: ProviderError, can_help: bool) -> None:
    assert error.fallback_can_help is can_help


def test_stream_interrupted_keeps_partial_text_and_details() -> None:
    error = StreamInterruptedError("cut", partial_text="Hello, wor", provider="anthropic")
    assert error.partial_text == "Hello, wor"
    assert error.provider == "anthropic"
    assert StreamInterruptedError("cut").partial_text == ""


def test_all_models_failed_keeps_every_error_and_takes_details_from_the_last() -> None:
    first = ModelNotFoundError("no model", provider="openai", model="gpt-5", status=404)
    last = RateLimitError(
        "slow down",
        provider="anthropic",
        model="claude",
        status=429,
        provider_message="rate limited",
    )
    error = AllModelsFailedError("every model failed", errors=[first, last])
    assert error.errors == [first, last]
    assert (error.provider, error.model, error.status) == ("anthropic", "claude", 429)
    assert error.provider_message == "rate limited"
    assert error.error_type == "rate_limit"
    assert not error.fallback_can_help


def test_all_models_failed_copies_the_error_list() -> None:
    given_errors = [ProviderTimeoutError("t")]
    error = AllModelsFailedError("failed", errors=given_errors)
    given_errors.append(ProviderConnectionError("c"))
    assert len(error.errors) == 1


def test_all_models_failed_without_errors() -> None:
    error = AllModelsFailedError("nothing was tried", errors=[])
    assert error.errors == []
    assert error.error_type == "all_models_failed"
    assert error.provider is None
    assert error.status is None
