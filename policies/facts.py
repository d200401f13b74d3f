"""Facts about a record that live outside the CRM (gomme's state), computed by the caller and passed in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What the jobs layer knows of a record beyond its fields; the engine never looks these up itself.

    `suppressed`: the HMAC of the record's normalised email is on gomme's suppression list (erased before).
    `objected`: the person objected to direct marketing (Art 21(2)); absolute, so a re-import changes nothing.
    """

    suppressed: bool = False
    objected: bool = False


NO_FACTS = RecordFacts()
