"""`PromptTagsFromMetadata`: a guard that reads a rendered prompt's call tags from the
request's OpenAI `metadata`, for clients that call through the gateway.

An application calling `LLMService` directly passes `tags=rendered.call_tags()`; one that
calls the gateway with an OpenAI SDK has only the request body, and the gateway labels
records with the key's user and team alone. OpenAI's `metadata` field (string values) is
the natural carrier: the client sends `metadata=rendered.call_tags()`, this guard moves
the known tag keys (`prompt`, `prompt_version`, `experiment`, `variant`, `category`)
onto the call's tags and drops them from what goes upstream. So the A/B tester counts
the call for its variant, and costs can be grouped by template version.

Give it to the gateway's services (`create_gateway_app(..., guards=[...])`). The tags
come from the client: give it only to gateways whose keys belong to your own
applications (a key holder could label its calls with any variant).
"""

from __future__ import annotations

from collections.abc import Mapping

from ai.core.guards import PassThroughGuard, PlannedCall
from ai.core.records import Operation, TagKey

CARRIED = frozenset(
    {
        TagKey.PROMPT.value,
        TagKey.PROMPT_VERSION.value,
        TagKey.EXPERIMENT.value,
        TagKey.VARIANT.value,
        TagKey.CATEGORY.value,
    }
)


class PromptTagsFromMetadata(PassThroughGuard):
    """The guard described in the module docstring."""

    name = "prompt-tags"

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        metadata = call.parameters.get("metadata")
        if call.operation is not Operation.CHAT or not isinstance(metadata, Mapping):
            return None
        carried = {k: str(v) for k, v in metadata.items() if k in CARRIED and v is not None}
        if not carried:
            return None
        rest = {k: v for k, v in metadata.items() if k not in CARRIED}
        tags = {**call.tags, **carried}
        return call.with_parameters(metadata=rest or None).replace(tags=tags)


__all__ = ["CARRIED", "PromptTagsFromMetadata"]
