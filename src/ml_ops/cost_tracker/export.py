"""Export of what a `CostTracker` knows, as CSV or JSON, for analysis elsewhere.

`what` picks the content:

- `records`: one row per call kept (the latest `keep_records`): ids, time, operation,
  provider, models, labels, outcome, tokens, cost and where it came from, savings,
  latency, and which guards changed or refused the call;
- `report`: `get_report()` (CSV: one row per breakdown entry, `section` saying which);
- `forecast`: `forecast(days)` (CSV: one row per day, then the total);
- `recommendations`: `recommendations()` (CSV: evidence as a JSON cell);
- `budgets`: every budget's status.

No export carries a secret: records leave out error messages and guard reasons (free
text that could quote a request), tag values are masked where they look like keys
(`ai.errors.redact`), and nothing names a URL. CSV cells that a spreadsheet would run as
a formula (starting with `=`, `+`, `-`, `@`) are prefixed with `'`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ai.core.records import RequestRecord
from ai.errors import ConfigurationError, redact

if TYPE_CHECKING:
    from ml_ops.cost_tracker.tracker import CostTracker

__all__ = ["ExportFormat", "ExportKind", "export_data", "record_row"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportKind(StrEnum):
    """What to export."""

    RECORDS = "records"
    REPORT = "report"
    FORECAST = "forecast"
    RECOMMENDATIONS = "recommendations"
    BUDGETS = "budgets"


class ExportFormat(StrEnum):
    """How to write it."""

    CSV = "csv"
    JSON = "json"


RECORD_COLUMNS = (
    "request_id", "timestamp", "operation", "provider", "model_requested", "model", "user",
    "agent", "tags", "outcome", "error_type", "cached", "streamed", "fallback_used",
    "attempts", "input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens",
    "estimated_cost", "cost_source", "saved_cost", "latency_ms", "guard_decisions",
)  # fmt: skip
REPORT_COLUMNS = (
    "section", "name", "requests", "successful", "failed", "refused", "cancelled", "cached",
    "unpriced_requests", "input_tokens", "output_tokens", "cost", "share", "cost_per_request",
    "cost_per_successful_request", "saved_cost", "cache_hit_rate",
)  # fmt: skip
RECOMMENDATION_COLUMNS = ("kind", "title", "estimated_monthly_saving", "action", "evidence")


def _choice(kind: type[StrEnum], value: object, what: str) -> Any:
    try:
        return kind(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise ConfigurationError(f"export {what} must be one of {allowed}, got {value!r}") from None


def record_row(record: RequestRecord) -> dict[str, Any]:
    """One record as plain values, without free text (module doc)."""
    usage = record.usage
    return {
        "request_id": record.request_id,
        "timestamp": record.timestamp.isoformat(),
        "operation": record.operation.value,
        "provider": record.provider,
        "model_requested": record.model_requested,
        "model": record.model,
        "user": record.user,
        "agent": record.agent,
        "tags": {key: redact(value) for key, value in record.tags.items()},
        "outcome": record.outcome.value,
        "error_type": record.error_type.value if record.error_type else None,
        "cached": record.cached,
        "streamed": record.streamed,
        "fallback_used": record.fallback_used,
        "attempts": record.attempts,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cached_input_tokens": usage.cached_input_tokens if usage else 0,
        "reasoning_tokens": usage.reasoning_tokens if usage else 0,
        "estimated_cost": record.estimated_cost,
        "cost_source": record.cost_source.value if record.cost_source else None,
        "saved_cost": record.saved_cost,
        "latency_ms": record.latency_ms,
        "guard_decisions": [
            {"guard": d.guard, "action": d.action.value, "changed": sorted(d.changes)}
            for d in record.guard_decisions
        ],
    }


def export_data(
    tracker: CostTracker,
    target: str | Path | IO[str],
    what: ExportKind | str,
    format: ExportFormat | str,
    *,
    days: int | None = None,
) -> int:
    """Write `what` from `tracker` to `target` (module doc); returns rows or items."""
    kind = _choice(ExportKind, what, "what")
    style = _choice(ExportFormat, format, "format")
    data, columns, rows = _content(tracker, kind, days)
    if style is ExportFormat.JSON:
        text = json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
        count = len(data) if isinstance(data, list) else 1
    else:
        text = _csv_text(columns, rows)
        count = len(rows)
    _write(target, text)
    return count


def _content(
    tracker: CostTracker, kind: ExportKind, days: int | None
) -> tuple[Any, Sequence[str], list[Mapping[str, Any]]]:
    if kind is ExportKind.RECORDS:
        kept = tracker.ledger.recent()
        if days is not None:
            first = tracker.ledger.local_day(tracker.clock.now()) - timedelta(days=days - 1)
            kept = [r for r in kept if tracker.ledger.local_day(r.timestamp) >= first]
        rows: list[Mapping[str, Any]] = [record_row(r) for r in kept]
        return rows, RECORD_COLUMNS, rows
    if kind is ExportKind.REPORT:
        report = tracker.get_report(days)
        return report, REPORT_COLUMNS, report_rows(report)
    if kind is ExportKind.FORECAST:
        forecast = tracker.forecast(days or 7).to_dict()
        return forecast, _forecast_columns(forecast), forecast_rows(forecast)
    if kind is ExportKind.RECOMMENDATIONS:
        items: list[Mapping[str, Any]] = [r.to_dict() for r in tracker.recommendations()]
        return items, RECOMMENDATION_COLUMNS, items
    statuses: list[Mapping[str, Any]] = [s.to_dict() for s in tracker.budget_statuses()]
    columns = list(statuses[0]) if statuses else ["name"]
    return statuses, columns, statuses


def report_rows(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The report's totals and breakdowns as rows with a `section` column."""
    rows: list[Mapping[str, Any]] = [{"section": "totals", "name": "all", **report["totals"]}]
    for section in ("model", "provider", "agent", "user", "operation"):
        rows += [{"section": section, **row} for row in report[f"by_{section}"]]
    rows += [{"section": "day", "name": row["day"], **row} for row in report["by_day"]]
    return rows


def _forecast_columns(forecast: Mapping[str, Any]) -> list[str]:
    columns = ["day", "point"]
    for interval in forecast["total_intervals"]:
        level = f"{interval['level']:.0%}"
        columns += [f"lower_{level}", f"upper_{level}"]
    return columns


def forecast_rows(forecast: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """One row per forecast day, then one for the total."""

    def bounds(intervals: Iterable[Mapping[str, float]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for interval in intervals:
            level = f"{interval['level']:.0%}"
            out[f"lower_{level}"] = interval["lower"]
            out[f"upper_{level}"] = interval["upper"]
        return out

    rows: list[Mapping[str, Any]] = [
        {"day": d["day"], "point": d["point"], **bounds(d["intervals"])} for d in forecast["days"]
    ]
    rows.append({"day": "total", "point": forecast["total"], **bounds(forecast["total_intervals"])})
    return rows


def _csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Mapping | list | tuple):
        value = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write(target: str | Path | IO[str], text: str) -> None:
    if isinstance(target, str) and target == "-":
        sys.stdout.write(text)
    elif isinstance(target, str | Path):
        Path(target).write_text(text, encoding="utf-8", newline="")
    else:
        target.write(text)
