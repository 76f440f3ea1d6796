"""Prompt templates: a built-in library, safe interpolation, versions, labels and A/B routing.

from ai.prompts import TemplateManager

async with TemplateManager() as prompts:        # .devora/prompts + the built-ins
    rendered = await prompts.render("code_review", language="Python", code=source)
    text, stats = await llm.complete(rendered.as_messages(), tags=rendered.call_tags())
"""

import typing as _typing

from ai.core import lazy as _lazy
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

if _typing.TYPE_CHECKING:
    from ai.prompts.stores.postgres import PostgresTemplateStore


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

__getattr__, __dir__ = _lazy.lazy_exports(
    __name__, __all__, {"PostgresTemplateStore": "ai.prompts.stores.postgres"}
)
