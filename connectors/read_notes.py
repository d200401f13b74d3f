"""What a run noticed while reading, for its summary: values gomme left unknown rather than guess.

Counts and picklist values only (a country name or a person's value is never kept): the admin sees which
lifecycle stages the mapping does not cover and how many countries were not recognised, and can fix the
configuration or the data.
"""

from __future__ import annotations

from collections import Counter

_MAX_STAGE_LENGTH = 40
_MAX_STAGES_SHOWN = 10


class ReadNotes:
    """Per connector: unrecognised countries by object, unmapped lifecycle values with their counts."""

    def __init__(self) -> None:
        self.unknown_countries: Counter[str] = Counter()
        self.unmapped_stages: Counter[str] = Counter()
        self.stage_field = ""

    def unknown_country(self, object_name: str) -> None:
        self.unknown_countries[object_name] += 1

    def unmapped_stage(self, field: str, value: object) -> None:
        self.stage_field = field
        self.unmapped_stages[str(value).strip()[:_MAX_STAGE_LENGTH]] += 1

    def lines(self) -> list[str]:
        lines = [
            f"{count} {name} record(s) with a country gomme does not recognise (left unknown)"
            for name, count in sorted(self.unknown_countries.items())
        ]
        if self.unmapped_stages:
            shown = ", ".join(f"'{value}' ({count})" for value, count in self.unmapped_stages.most_common(
                _MAX_STAGES_SHOWN))  # fmt: skip
            lines.append(f"{self.stage_field} values not in lifecycle_map, read as 'unknown' (no retention rule "
                         f"applies): {shown}; map them to prospect, customer or former_customer")  # fmt: skip
        return lines
