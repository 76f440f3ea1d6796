"""`Budget`: the spec's form, validation with clear messages, scopes, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai.errors import ConfigurationError
from ml_ops.cost_tracker import Budget, BudgetAction, BudgetPeriod, BudgetScope, Weekday
from ml_ops.cost_tracker.budget_files import find_budgets_file, load_budgets


def test_the_spec_form_works_as_written() -> None:
    budget = Budget(name="daily_limit", limit=10.0, period="daily", scope="global")
    assert budget.period is BudgetPeriod.DAILY
    assert budget.scope is BudgetScope.GLOBAL
    assert budget.action is BudgetAction.ALERT
    assert budget.alert_fractions == (0.8, 1.0)
    assert budget.scope_value is None and budget.tag is None


def test_values_are_normalised() -> None:
    budget = Budget(
        "b", 5, " Weekly ", "USER", scope_value=" alice ", tag=" team = search ",
        alert_fractions=[1.0, 0.5, 0.5], action="Refuse", week_start="sunday",
    )  # fmt: skip
    assert budget.limit == 5.0 and budget.period is BudgetPeriod.WEEKLY
    assert budget.scope is BudgetScope.USER and budget.scope_value == "alice"
    assert budget.tag == "team=search" and budget.tag_pair == ("team", "search")
    assert budget.alert_fractions == (0.5, 1.0)
    assert budget.action is BudgetAction.REFUSE
    assert budget.week_start is Weekday.SUNDAY


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "limit": 1}, "Budget.name"),
        ({"name": "b", "limit": 0}, "limit must be > 0"),
        ({"name": "b", "limit": float("nan")}, "finite number"),
        ({"name": "b", "limit": True}, "finite number"),
        ({"name": "b", "limit": 1, "period": "hourly"}, "'daily', 'weekly', 'monthly'"),
        ({"name": "b", "limit": 1, "scope": "team"}, "'global', 'model'"),
        ({"name": "b", "limit": 1, "scope": "user"}, "needs scope_value"),
        ({"name": "b", "limit": 1, "scope_value": "alice"}, "takes no scope_value"),
        ({"name": "b", "limit": 1, "tag": "team"}, "'key=value'"),
        ({"name": "b", "limit": 1, "alert_fractions": [0.0]}, "alert_fractions must be > 0"),
        ({"name": "b", "limit": 1, "alert_fractions": "0.8"}, "list of fractions"),
        ({"name": "b", "limit": 1, "action": "block"}, "'alert', 'refuse', 'downgrade'"),
        ({"name": "b", "limit": 1, "downgrade_to": "gpt-4o-mini"}, "only used with"),
        ({"name": "b", "limit": 1, "action": "downgrade", "downgrade_from": 1.5}, "(0, 1]"),
        (
            {"name": "b", "limit": 1, "scope": "model", "scope_value": "x", "action": "downgrade"},
            "no cheaper model",
        ),
        ({"name": "b", "limit": 1, "week_start": 9}, "week_start"),
    ],
)
def test_mistakes_are_configuration_errors_naming_the_field(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace("]", r"\]")):
        Budget(**kwargs)  # type: ignore[arg-type]


def test_downgrade_budgets_may_name_their_target_or_use_the_family_default() -> None:
    named = Budget("b", 1, action="downgrade", downgrade_to="gpt-4o-mini", downgrade_from=0.5)
    assert named.downgrade_to == "gpt-4o-mini" and named.downgrade_from == 0.5
    family = Budget("c", 1, scope="model", scope_value="gpt-4o", action="downgrade")
    assert family.downgrade_to is None  # chosen per call by cheaper_model


def test_scopes_and_tags_select_calls() -> None:
    labels = {"model": "GPT-4o", "provider": "openai", "agent": "support", "user": "alice"}
    assert Budget("g", 1).matches(**labels, tags={})
    assert Budget("m", 1, scope="model", scope_value="gpt-4o").matches(**labels)
    assert not Budget("m", 1, scope="model", scope_value="gpt-4o-mini").matches(**labels)
    assert Budget("p", 1, scope="provider", scope_value="openai").matches(**labels)
    assert Budget("a", 1, scope="agent", scope_value="support").matches(**labels)
    assert not Budget("u", 1, scope="user", scope_value="bob").matches(**labels)
    tagged = Budget("t", 1, scope="user", scope_value="alice", tag="team=search")
    assert tagged.matches(**labels, tags={"team": "search"})
    assert not tagged.matches(**labels, tags={"team": "ads"})
    assert not tagged.matches(**labels, tags=None)
    assert tagged.describe_scope() == "user:alice [team=search]"


def test_a_model_budget_covers_the_dated_snapshots_the_provider_answers_with() -> None:
    def covers(budget_model: str, answered: str) -> bool:
        budget = Budget("m", 1, scope="model", scope_value=budget_model)
        return budget.matches(model=answered, provider="openai", agent=None, user=None)

    assert covers("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14")
    assert covers("claude-sonnet-4", "claude-sonnet-4-20250514")
    assert covers("gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18")
    assert not covers("gpt-4o-mini-2024-07-18", "gpt-4o-mini")  # one snapshot only
    assert not covers("gpt-4o", "gpt-4o-mini-2024-07-18")  # another model's snapshot


def test_to_dict_and_from_dict_round_trip() -> None:
    budget = Budget(
        "b", 12.5, "weekly", "agent", scope_value="support", tag="env=prod",
        alert_fractions=(0.5, 0.9), action="downgrade", downgrade_to="gpt-4o-mini",
        downgrade_from=0.75, week_start=Weekday.SUNDAY,
    )  # fmt: skip
    assert Budget.from_dict(budget.to_dict()) == budget
    with pytest.raises(ConfigurationError, match="unknown field"):
        Budget.from_dict({"name": "b", "limit": 1, "limt": 2})
    with pytest.raises(ConfigurationError, match="needs 'limit'"):
        Budget.from_dict({"name": "b"})


def test_budget_files_in_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "budgets.yaml"
    yaml_file.write_text(
        "budgets:\n"
        "  - {name: daily_limit, limit: 10.0, period: daily, scope: global}\n"
        "  - {name: alice, limit: 50, period: monthly, scope: user, scope_value: alice,\n"
        "     action: refuse}\n"
    )
    json_file = tmp_path / "budgets.json"
    json_file.write_text('[{"name": "x", "limit": 1, "period": "weekly"}]')
    assert [b.name for b in load_budgets(yaml_file)] == ["daily_limit", "alice"]
    assert load_budgets(json_file)[0].period is BudgetPeriod.WEEKLY
    bad = tmp_path / "bad.yaml"
    bad.write_text("budgets:\n  - {name: x, limit: -1}\n")
    with pytest.raises(ConfigurationError, match=r"bad.yaml, budget 1: .*limit must be > 0"):
        load_budgets(bad)
    twice = tmp_path / "twice.json"
    twice.write_text('[{"name": "x", "limit": 1}, {"name": "x", "limit": 2}]')
    with pytest.raises(ConfigurationError, match="used twice"):
        load_budgets(twice)
    assert find_budgets_file(environ={"DEVORA_BUDGETS": str(json_file)}) == json_file
