"""`Budget`: a spending limit per period over some of the calls, and what happens at it.

    Budget(name="daily_limit", limit=10.0, period="daily", scope="global")
    Budget(name="alice", limit=50.0, period="monthly", scope="user", scope_value="alice",
           action="refuse")
    Budget(name="search", limit=200.0, period="weekly", tag="team=search",
           action="downgrade", downgrade_from=0.9)

A budget covers the calls of its scope (every call, or those of one model, provider,
agent or user) that also carry its `tag`, if it has one. Its period is a calendar day,
week or month in the tracker's time zone (`periods`). At `alert_fractions` of the limit
it alerts, once per period each. Its `action` says what the guard does: `alert` only,
`refuse` calls that could take spend past the limit, or `downgrade` calls to a cheaper
model of the same family once `downgrade_from` of the limit is used.

Everything is checked at construction; a mistake is a `ConfigurationError` naming the
field and what it accepts.

Public names: `Budget`, `BudgetAction`, `BudgetScope`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ai.accounting.model_price import SNAPSHOT_SUFFIX
from ai.errors import ConfigurationError
from ml_ops.cost_tracker.downgrades import cheaper_model
from ml_ops.cost_tracker.periods import BudgetPeriod, Weekday

__all__ = ["Budget", "BudgetAction", "BudgetScope", "format_usd"]

DEFAULT_ALERT_FRACTIONS = (0.8, 1.0)
DEFAULT_DOWNGRADE_FROM = 0.9


class BudgetScope(StrEnum):
    """Which calls a budget counts: all of them, or those of one model, provider, agent
    or user (named by the budget's `scope_value`)."""

    GLOBAL = "global"
    MODEL = "model"
    PROVIDER = "provider"
    AGENT = "agent"
    USER = "user"


class BudgetAction(StrEnum):
    """What the budget guard does when a budget runs out: alert only, refuse the calls
    that would go past the limit, or send calls to a cheaper model."""

    ALERT = "alert"
    REFUSE = "refuse"
    DOWNGRADE = "downgrade"


def format_usd(amount: float) -> str:
    """`$1,234.50` for amounts from a dollar up, `$0.0062` below (cents would hide them)."""
    return f"${amount:,.2f}" if abs(amount) >= 1 else f"${amount:.4f}"


def _enum(kind: type[StrEnum], value: object, field: str) -> Any:
    try:
        return kind(value.strip().lower() if isinstance(value, str) else str(value))
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise ConfigurationError(
            f"Budget.{field} must be one of {allowed}, got {value!r}"
        ) from None


def _amount(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"Budget.{field} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True, init=False)
class Budget:
    """A spending limit (USD) per `period` over the calls of a scope; see the module doc.

    - `scope` and `scope_value`: `"global"` (no value), or `"model"`, `"provider"`,
      `"agent"`, `"user"` with the name to match (models compare case-insensitively).
    - `tag`: optionally also require a tag, written `"key=value"`.
    - `alert_fractions`: fractions of the limit that alert, once per period each.
    - `action`: `"alert"` (default), `"refuse"` or `"downgrade"`.
    - `downgrade_to`: the model downgraded calls go to; default: the next cheaper model
      of the call's family (`downgrades.cheaper_model`). `downgrade_from`: the fraction
      of the limit (spent plus reserved) from which calls are downgraded.
    - `week_start`: first day of a weekly period (Monday by default).
    """

    name: str
    limit: float
    period: BudgetPeriod
    scope: BudgetScope
    scope_value: str | None
    tag: str | None
    alert_fractions: tuple[float, ...]
    action: BudgetAction
    downgrade_to: str | None
    downgrade_from: float
    week_start: Weekday

    def __init__(
        self,
        name: str,
        limit: float,
        period: BudgetPeriod | str = BudgetPeriod.MONTHLY,
        scope: BudgetScope | str = BudgetScope.GLOBAL,
        *,
        scope_value: str | None = None,
        tag: str | None = None,
        alert_fractions: Iterable[float] = DEFAULT_ALERT_FRACTIONS,
        action: BudgetAction | str = BudgetAction.ALERT,
        downgrade_to: str | None = None,
        downgrade_from: float = DEFAULT_DOWNGRADE_FROM,
        week_start: Weekday | int = Weekday.MONDAY,
    ) -> None:
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ConfigurationError(
                f"Budget.name must be a non-empty name without surrounding spaces, got {name!r}"
            )
        amount = _amount(limit, "limit")
        if amount <= 0:
            raise ConfigurationError(f"Budget {name!r}: limit must be > 0 USD, got {limit!r}")
        kind = _enum(BudgetScope, scope, "scope")
        values = {
            "name": name,
            "limit": amount,
            "period": _enum(BudgetPeriod, period, "period"),
            "scope": kind,
            "scope_value": _scope_value(name, kind, scope_value),
            "tag": _tag(name, tag),
            "alert_fractions": _fractions(name, alert_fractions),
            "action": _enum(BudgetAction, action, "action"),
            "downgrade_to": downgrade_to,
            "downgrade_from": _amount(downgrade_from, "downgrade_from"),
            "week_start": _weekday(week_start),
        }
        for field, value in values.items():
            object.__setattr__(self, field, value)
        self._check_downgrade()

    def _check_downgrade(self) -> None:
        if not 0 < self.downgrade_from <= 1:
            raise ConfigurationError(
                f"Budget {self.name!r}: downgrade_from is a fraction of the limit in (0, 1], "
                f"got {self.downgrade_from!r}"
            )
        if self.action is not BudgetAction.DOWNGRADE:
            if self.downgrade_to is not None:
                raise ConfigurationError(
                    f"Budget {self.name!r}: downgrade_to is only used with "
                    f"action='downgrade' (the action is {self.action.value!r})"
                )
            return
        if self.downgrade_to is not None and (
            not isinstance(self.downgrade_to, str) or not self.downgrade_to.strip()
        ):
            raise ConfigurationError(
                f"Budget {self.name!r}: downgrade_to must name a model, got {self.downgrade_to!r}"
            )
        if (
            self.downgrade_to is None
            and self.scope is BudgetScope.MODEL
            and self.scope_value is not None
            and cheaper_model(self.scope_value) is None
        ):
            raise ConfigurationError(
                f"Budget {self.name!r}: no cheaper model of {self.scope_value!r} is known; "
                "name one with downgrade_to='...'"
            )

    @property
    def tag_pair(self) -> tuple[str, str] | None:
        """The tag filter as (key, value), or None."""
        if self.tag is None:
            return None
        key, _, value = self.tag.partition("=")
        return key, value

    def matches(
        self,
        *,
        model: str | None,
        provider: str | None,
        agent: str | None,
        user: str | None,
        tags: Mapping[str, str] | None = None,
    ) -> bool:
        """Whether a call with these labels counts against this budget."""
        if self.tag is not None:
            key, value = self.tag_pair or ("", "")
            if tags is None or tags.get(key) != value:
                return False
        return self.matches_scope(model=model, provider=provider, agent=agent, user=user)

    def matches_scope(
        self, *, model: str | None, provider: str | None, agent: str | None, user: str | None
    ) -> bool:
        """Whether the scope alone (not the tag) covers a call with these labels."""
        if self.scope is BudgetScope.GLOBAL:
            return True
        if self.scope is BudgetScope.MODEL:
            return model is not None and _same_model(model, self.scope_value or "")
        wanted = {BudgetScope.PROVIDER: provider, BudgetScope.AGENT: agent}.get(self.scope, user)
        return wanted is not None and wanted == self.scope_value

    def describe_scope(self) -> str:
        """`global`, `user:alice`, `model:gpt-4o [team=search]`."""
        text = self.scope.value if self.scope_value is None else f"{self.scope}:{self.scope_value}"
        return f"{text} [{self.tag}]" if self.tag else text

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; `Budget.from_dict` reads it back."""
        return {
            "name": self.name,
            "limit": self.limit,
            "period": self.period.value,
            "scope": self.scope.value,
            "scope_value": self.scope_value,
            "tag": self.tag,
            "alert_fractions": list(self.alert_fractions),
            "action": self.action.value,
            "downgrade_to": self.downgrade_to,
            "downgrade_from": self.downgrade_from,
            "week_start": self.week_start.name.lower(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Budget:
        """A budget from a mapping of its fields (a budgets file entry); an unknown field
        is a `ConfigurationError`, never ignored."""
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"a budget must be a mapping of its fields, got {data!r}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(
                f"budget {data.get('name', '?')!r}: unknown field(s) {', '.join(unknown)}; "
                f"expected {', '.join(sorted(known))}"
            )
        for required in ("name", "limit"):
            if required not in data:
                raise ConfigurationError(f"a budget needs {required!r}: {dict(data)!r}")
        fields = dict(data)
        if isinstance(fields.get("week_start"), str):
            fields["week_start"] = _weekday(fields["week_start"])
        if fields.get("alert_fractions") is None:
            fields.pop("alert_fractions", None)
        return cls(**fields)


def _scope_value(name: str, scope: BudgetScope, value: str | None) -> str | None:
    if scope is BudgetScope.GLOBAL:
        if value is not None:
            raise ConfigurationError(
                f"Budget {name!r}: a global budget takes no scope_value (got {value!r}); "
                "use scope='model', 'provider', 'agent' or 'user' to narrow it"
            )
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"Budget {name!r}: scope={scope.value!r} needs scope_value naming the "
            f"{scope.value} (e.g. scope_value='alice')"
        )
    return value.strip()


def _tag(name: str, tag: str | None) -> str | None:
    if tag is None:
        return None
    key, equals, value = tag.partition("=") if isinstance(tag, str) else ("", "", "")
    if not equals or not key.strip() or not value.strip():
        raise ConfigurationError(f"Budget {name!r}: tag must be written 'key=value', got {tag!r}")
    return f"{key.strip()}={value.strip()}"


def _fractions(name: str, fractions: Iterable[float]) -> tuple[float, ...]:
    if isinstance(fractions, str | bytes) or not isinstance(fractions, Iterable):
        raise ConfigurationError(
            f"Budget {name!r}: alert_fractions must be a list of fractions such as (0.8, 1.0), "
            f"got {fractions!r}"
        )
    checked = sorted({_amount(f, "alert_fractions") for f in fractions})
    if any(f <= 0 for f in checked):
        raise ConfigurationError(
            f"Budget {name!r}: alert_fractions must be > 0 (1.0 is the limit), got {fractions!r}"
        )
    return tuple(checked)


def _weekday(value: Weekday | int | str) -> Weekday:
    try:
        if isinstance(value, str):
            return Weekday[value.strip().upper()]
        return Weekday(value)
    except (KeyError, ValueError):
        raise ConfigurationError(
            f"Budget.week_start must be a weekday (0 = Monday ... 6 = Sunday, or its name), "
            f"got {value!r}"
        ) from None


def _same_model(model: str, wanted: str) -> bool:
    """`model` is `wanted`, or a dated snapshot of it: providers answer with the snapshot
    (`gpt-4.1-mini-2025-04-14` for `gpt-4.1-mini`), and a budget on the model covers it.
    A budget naming one snapshot covers that snapshot only."""
    name, wanted = model.strip().lower(), wanted.strip().lower()
    return name == wanted or SNAPSHOT_SUFFIX.sub("", name) == wanted
