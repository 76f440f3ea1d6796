"""Prompt templates: a built-in library, safe interpolation, versions, labels and A/B routing.

from ai.prompts import TemplateManager

async with TemplateManager() as prompts:        # .devora/prompts + the built-ins
    rendered = await prompts.render("code_review", language="Python", code=source)
    text, stats = await llm.complete(rendered.as_messages(), tags=rendered.call_tags())
"""

from typing import TYPE_CHECKING, Any

from ai.errors import TemplateError, TemplateNotFoundError
from ai.prompts.experiments import Exposure, PromptExperiments, WeightedSplit
from ai.prompts.library import builtin_templates
from ai.prompts.rendered import ModelHints, PromptEstimate, RenderedPrompt
from ai.prompts.stores import (
    DirectoryTemplateStore,
    MemoryTemplateStore,
    SQLiteTemplateStore,
    TemplateStore,
    open_template_store,
)
from ai.prompts.template import Category, PromptMessage, PromptTemplate, Role
from ai.prompts.template_manager import TemplateManager, TemplateSummary
from ai.prompts.transfer import ImportReport
from ai.prompts.variables import TemplateVariable, VariableType
from ai.prompts.versions import (
    LATEST,
    PRODUCTION,
    TemplateDiff,
    TemplateHistory,
    TemplateVersion,
)

if TYPE_CHECKING:
    from ai.prompts.stores.postgres import PostgresTemplateStore


def __getattr__(name: str) -> Any:
    """`PostgresTemplateStore` on first use, so importing `ai.prompts` never imports asyncpg."""
    if name == "PostgresTemplateStore":
        from ai.prompts.stores.postgres import PostgresTemplateStore

        return PostgresTemplateStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LATEST",
    "PRODUCTION",
    "Category",
    "DirectoryTemplateStore",
    "Exposure",
    "ImportReport",
    "MemoryTemplateStore",
    "ModelHints",
    "PostgresTemplateStore",
    "PromptEstimate",
    "PromptExperiments",
    "PromptMessage",
    "PromptTemplate",
    "RenderedPrompt",
    "Role",
    "SQLiteTemplateStore",
    "TemplateDiff",
    "TemplateError",
    "TemplateHistory",
    "TemplateManager",
    "TemplateNotFoundError",
    "TemplateStore",
    "TemplateSummary",
    "TemplateVariable",
    "TemplateVersion",
    "VariableType",
    "WeightedSplit",
    "builtin_templates",
    "open_template_store",
]
