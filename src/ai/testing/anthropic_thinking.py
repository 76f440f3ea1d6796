"""Extended thinking on the Anthropic fake: who may think, the rules that come with it, and
the thinking block an answer starts with.

`"thinking": {"type": "enabled", "budget_tokens": N}` is taken by Claude 3.7 Sonnet and the
Claude 4 families; older Claude 3 and 3.5 models refuse it. With thinking on, the real API
refuses a `temperature` other than 1, any `top_k`, a `top_p` below 0.95 and a `tool_choice`
that forces tool use. Each rule below carries the real API's message, as clients have
reported it; where only the rule is documented, the note says so.

The answer then opens with `{"type": "thinking", "thinking": <text>, "signature": <opaque>}`
before its text or tool call. The thinking text is deterministic (it quotes the question),
the signature a stable digest of it, and its tokens are billed inside `output_tokens` (the
real API does not report them apart) and taken from `max_tokens` before the visible answer.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ai.testing.anthropic_dialect import invalid
from ai.testing.replies import Turn
from ai.testing.token_counting import count_tokens

MIN_BUDGET = 1024
_DOCS = (
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
    "#important-considerations-when-using-extended-thinking"
)
_NO_THINKING = ("claude-3-", "claude-2", "claude-instant")
_THINKING_3X = "claude-3-7-"
_QUOTED_CHARS = 120


def supports_thinking(model: str) -> bool:
    """Claude 3.7 Sonnet and later think; Claude 3, 3.5, 2 and Instant models do not.
    Unknown (newer) ids are given the benefit of the doubt."""
    return model.startswith(_THINKING_3X) or not model.startswith(_NO_THINKING)


def thinking_budget(body: Mapping[str, Any]) -> int | None:
    """`budget_tokens` of an enabled `thinking` (validated already), else None."""
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget: int = thinking["budget_tokens"]
        return budget
    return None


def check_thinking_shape(thinking: object) -> None:
    """The schema of `thinking`: a tagged object, `enabled` with an integer budget of at
    least 1,024 (the budget message is the real API's; the others are pydantic's wording,
    which the API uses for every schema error)."""
    if thinking is None:
        return
    if not isinstance(thinking, dict):
        raise invalid("thinking: Input should be a valid dictionary or object to extract fields")
    kind = thinking.get("type")
    if kind is None:
        raise invalid("thinking: Unable to extract tag using discriminator 'type'")
    if kind not in ("enabled", "disabled"):
        raise invalid(
            f"thinking: Input tag '{kind}' found using 'type' does not match any of the "
            "expected tags: 'enabled', 'disabled'"
        )
    if kind == "disabled":
        return
    budget = thinking.get("budget_tokens")
    if budget is None:
        raise invalid("thinking.enabled.budget_tokens: Field required")
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise invalid("thinking.enabled.budget_tokens: Input should be a valid integer")
    if budget < MIN_BUDGET:
        raise invalid(
            f"thinking.enabled.budget_tokens: Input should be greater than or equal to {MIN_BUDGET}"
        )


def check_thinking_rules(body: Mapping[str, Any], model: str) -> None:
    """What enabled thinking forbids, checked after the schema."""
    budget = thinking_budget(body)
    if budget is None:
        return
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens <= budget:
        raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`.")
    if not supports_thinking(model):
        # Seen: 400 "'claude-3-5-sonnet-20241022' does not support thinking."
        raise invalid(f"'{model}' does not support thinking.")
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        # Seen: "`temperature` may only be set to 1 when thinking is enabled. Please ..."
        raise invalid(
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
            f"documentation at {_DOCS}"
        )
    if body.get("top_k") is not None:
        # Seen: "`top_k` must be unset when thinking is enabled. Please consult ..."
        raise invalid(
            f"`top_k` must be unset when thinking is enabled. Please consult our documentation "
            f"at {_DOCS}"
        )
    top_p = body.get("top_p")
    if top_p is not None and top_p < 0.95:
        # Documented ("top_p between 0.95 and 1"); the wording follows the two above.
        raise invalid(
            "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled. "
            f"Please consult our documentation at {_DOCS}"
        )
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        # Seen, for both "any" and "tool": "Thinking may not be enabled when tool_choice
        # forces tool use."
        raise invalid("Thinking may not be enabled when tool_choice forces tool use.")


@dataclass(frozen=True, slots=True)
class Thinking:
    """The thinking an answer starts with: its text, signature and token count."""

    text: str
    signature: str
    tokens: int

    def block(self) -> dict[str, Any]:
        """The `thinking` content block of a message."""
        return {"type": "thinking", "thinking": self.text, "signature": self.signature}


def think(model: str, turn: Turn) -> Thinking:
    """The deterministic thinking for `turn`: it quotes the question and says how the
    answer will go (a tool call, a tool result passed on, or a reply)."""
    quoted = turn.user_text[:_QUOTED_CHARS]
    if turn.tool_result is not None:
        plan = "The tool has answered; I will pass its result on to the user."
    elif turn.tools and turn.tools_enabled:
        name = turn.forced_tool or turn.tools[0].name
        plan = f"The {name} tool can answer this, so I will call it first."
    else:
        plan = "No tool is needed; a short, direct reply will do."
    text = f'The user wrote: "{quoted}". {plan}'
    digest = hashlib.blake2b(f"{model}\x00{text}".encode(), digest_size=64).digest()
    signature = base64.b64encode(b"\x12\x08devora" + digest).decode("ascii")
    return Thinking(text=text, signature=signature, tokens=count_tokens(text))
