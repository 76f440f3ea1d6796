"""`apply(variant, ...)`: the `LLMService.complete` arguments of any variant, templates too.

`Variant.call_arguments` is synchronous and covers variants that carry their prompt text
(or take the caller's `messages`). A variant that names a template of a `TemplateManager`
(`Variant(template="code_review", label="concise")`) must be rendered by the manager,
which is asynchronous; `apply` does that and returns the same arguments:

    variant = ab_tester.get_variant("review_prompt", unit_id=user_id)
    text, stats = await llm.complete(
        **await apply(variant, {"language": "Python", "code": code}, manager=prompts),
        user=user_id,
    )

The call is tagged with the experiment and variant, so with the tester attached to the
service's bus its result is counted with no `track_result`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ai.errors import ConfigurationError
from ai.prompts.template_manager import TemplateManager
from ai.prompts.versions import PRODUCTION
from ml_ops.ab_testing.variant import Variant


async def apply(
    variant: Variant,
    variables: Mapping[str, Any] | None = None,
    /,
    *,
    manager: TemplateManager | None = None,
    messages: Sequence[Mapping[str, Any]] | None = None,
    **values: Any,
) -> dict[str, Any]:
    """Keyword arguments for `LLMService.complete` standing for `variant` (see the module
    docstring); `manager` renders a template the variant names."""
    if variant.template is None:
        return variant.call_arguments(variables, messages=messages, **values)
    if manager is None:
        raise ConfigurationError(
            f"variant {variant.name!r} names template {variant.template!r}: pass "
            "manager=TemplateManager(...) to render it"
        )
    label = None if variant.version is not None else (variant.label or PRODUCTION)
    rendered = await manager.render(
        variant.template, variables, version=variant.version, label=label, **values
    )
    return variant.call_arguments(rendered=rendered)
