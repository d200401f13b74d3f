"""Facts about a record that live outside the CRM (gomme's state), computed by the caller and passed in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What the jobs layer knows of a record beyond its fields; the engine never looks these up itself.

    `suppressed`: the HMAC of the record's normalised email is on gomme's suppression list (erased before).
    """

    suppressed: bool = False


NO_FACTS = RecordFacts()
