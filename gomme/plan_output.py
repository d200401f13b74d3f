"""Writing a plan as it streams: a rich summary table for people, JSON or CSV for tools."""

from __future__ import annotations

import csv
import json
from collections import Counter
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from gomme.jobs.plan import PlanItem

CSV_COLUMNS = ("connector", "object_type", "record_id", "action", "also", "rule_id", "legal_basis", "fields", "reasons")
TABLE_ROWS = 20


def plan_row(item: PlanItem) -> dict[str, Any]:
    """One plan line. Record ids and field names only: the plan never carries personal values."""
    change = item.change
    return {
        "connector": change.crm,
        "object_type": change.object_type,
        "record_id": change.record_id,
        "action": str(change.action),
        "also": [str(a) for a in change.also],
        "rule_id": change.rule_id,
        "legal_basis": change.legal_basis,
        "fields": list(change.fields),
        "reasons": list(item.reasons),
    }


class JsonPlanWriter:
    """A JSON array written item by item, so a million-line plan never sits in memory."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream, self._count = stream, 0
        stream.write("[")

    def __call__(self, item: PlanItem) -> None:
        self._stream.write(("," if self._count else "") + "\n  " + json.dumps(plan_row(item), ensure_ascii=False))
        self._count += 1

    def close(self) -> None:
        self._stream.write("\n]\n" if self._count else "]\n")


class CsvPlanWriter:
    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
        self._writer.writeheader()

    def __call__(self, item: PlanItem) -> None:
        row = plan_row(item)
        for key in ("also", "fields", "reasons"):
            row[key] = "; ".join(row[key])
        self._writer.writerow(row)

    def close(self) -> None:
        pass


class TablePlanWriter:
    """Counts by rule and action, plus the first few changes; `--output` gives the whole list."""

    def __init__(self, console: Console, rows: int = TABLE_ROWS) -> None:
        self._console, self._rows = console, rows
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._first: list[PlanItem] = []

    def __call__(self, item: PlanItem) -> None:
        change = item.change
        self._counts[(change.crm, change.rule_id, "+".join(change.actions))] += 1
        if len(self._first) < self._rows:
            self._first.append(item)

    def close(self) -> None:
        if not self._counts:
            self._console.print("The plan is empty: nothing to change.")
            return
        summary = Table(title="Plan by rule", title_justify="left")
        for column in ("connector", "rule", "action", "changes"):
            summary.add_column(column, justify="right" if column == "changes" else "left")
        for (crm, rule, action), count in sorted(self._counts.items()):
            summary.add_row(crm, rule, action, str(count))
        self._console.print(summary)
        detail = Table(title=f"First {len(self._first)} changes", title_justify="left")
        for column in ("record", "action", "rule", "why"):
            detail.add_column(column, overflow="fold")
        for item in self._first:
            change = item.change
            detail.add_row(f"{change.object_type}/{change.record_id}", "+".join(change.actions), change.rule_id,
                           "\n".join(item.reasons))
        self._console.print(detail)


PlanWriter = JsonPlanWriter | CsvPlanWriter | TablePlanWriter


def plan_writer(fmt: str, stream: IO[str], rows: int = TABLE_ROWS) -> PlanWriter:
    if fmt == "json":
        return JsonPlanWriter(stream)
    if fmt == "csv":
        return CsvPlanWriter(stream)
    return TablePlanWriter(Console(file=stream, width=max(Console().width, 120)), rows)
