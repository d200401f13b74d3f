"""Writing a plan as it streams: a rich summary table for people, JSON or CSV for tools."""

from __future__ import annotations

import csv
import json
from collections import Counter
from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gomme.jobs.plan import PlanItem

CSV_COLUMNS = ("connector", "object_type", "record_id", "action", "also", "rule_id", "legal_basis", "fields", "reasons")
TABLE_ROWS = 20
EMPTY_PLAN = "The plan is empty: nothing to change."
NOTHING_READ = "No plan: no CRM could be read (see the errors below)."
MORE_HINT = "see them all with `gomme sweep --output plan.csv` (or --format csv|json)"


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

    def section_done(self) -> None:
        self._stream.flush()

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

    def section_done(self) -> None:
        pass

    def close(self) -> None:
        pass


class PlanTally:
    """Changes counted by connector, rule and action: the plan's summary, whatever its size."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def add(self, item: PlanItem) -> None:
        change = item.change
        self.counts[(change.crm, change.rule_id, "+".join(change.actions))] += 1

    @property
    def total(self) -> int:
        return self.counts.total()

    def table(self) -> Table:
        connectors = sorted({crm for crm, _, _ in self.counts})
        table = Table(title=f"Plan by rule: {self.total:,} change(s) in {', '.join(connectors)}", title_justify="left")
        for column in ("connector", "rule", "action", "changes"):
            table.add_column(column, justify="right" if column == "changes" else "left")
        for (crm, rule, action), count in sorted(self.counts.items()):
            table.add_row(crm, rule, action, f"{count:,}")
        return table


class TablePlanWriter:
    """Per section (one connector's plan): counts by rule and action, plus the first few changes and how to see
    the rest. A section is printed by `section_done` (before its changes are written) or by `close`."""

    def __init__(self, console: Console, rows: int = TABLE_ROWS, more_hint: str = MORE_HINT) -> None:
        self._console, self._rows, self._more_hint = console, rows, more_hint
        self._tally = PlanTally()
        self._first: list[PlanItem] = []
        self._printed = False

    def __call__(self, item: PlanItem) -> None:
        self._tally.add(item)
        if len(self._first) < self._rows:
            self._first.append(item)

    def section_done(self) -> None:
        if not self._tally.total:
            return
        self._console.print(self._tally.table())
        detail = Table(title=f"First {len(self._first)} changes", title_justify="left")
        for column in ("record", "action", "rule", "why"):
            detail.add_column(column, overflow="fold")
        for item in self._first:
            change = item.change
            detail.add_row(
                Text(f"{change.object_type}/{change.record_id}"),
                "+".join(change.actions),
                change.rule_id,
                Text("\n".join(item.reasons)),
            )
        self._console.print(detail)
        hidden = self._tally.total - len(self._first)
        if hidden:
            self._console.print(
                f"… and {hidden:,} more change(s) not shown: {self._more_hint}",
                soft_wrap=True,
                markup=False,
                highlight=False,
            )
        self._tally, self._first, self._printed = PlanTally(), [], True

    def close(self, *, empty: str = EMPTY_PLAN) -> None:
        """Print what is left; `empty` says what an empty plan means (e.g. that no CRM could be read)."""
        self.section_done()
        if not self._printed:
            self._console.print(empty, markup=False, highlight=False)


class PlanSummary:
    """The summary alone (counts by rule and action), for a plan that goes out as JSON, CSV or to a file."""

    def __init__(self, console: Console) -> None:
        self._console, self._tally = console, PlanTally()

    def __call__(self, item: PlanItem) -> None:
        self._tally.add(item)

    def section_done(self) -> None:
        if self._tally.total:
            self._console.print(self._tally.table())
        self._tally = PlanTally()

    def close(self) -> None:
        self.section_done()


PlanWriter = JsonPlanWriter | CsvPlanWriter | TablePlanWriter | PlanSummary


class PlanWriters:
    """Several writers fed the same plan: e.g. the JSON on stdout and its summary for the admin on stderr."""

    def __init__(self, *writers: PlanWriter) -> None:
        self._writers = writers

    def __call__(self, item: PlanItem) -> None:
        for writer in self._writers:
            writer(item)

    def section_done(self) -> None:
        for writer in self._writers:
            writer.section_done()

    def close(self) -> None:
        for writer in self._writers:
            writer.close()


def plan_writer(fmt: str, stream: IO[str], rows: int = TABLE_ROWS) -> PlanWriter:
    if fmt == "json":
        return JsonPlanWriter(stream)
    if fmt == "csv":
        return CsvPlanWriter(stream)
    return TablePlanWriter(Console(file=stream, width=max(Console().width, 120)), rows)
