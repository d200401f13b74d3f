"""Keyed pseudonyms and generalised quasi-identifiers for extracts handed to a processor (docs/extracts.md).

Pure: no I/O, no clock (`today` is passed in). A pseudonym is HMAC-SHA256 under a per-extract key of the
field's kind and its normalised value, so the same person gets the same pseudonym within one extract, another one
in the next extract (new key), and only the key's holder (the controller) can link a pseudonym back to a record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

KEY_BYTES = 32
PSEUDONYM_HEX = 32  # 128 bits: no collision in any realistic extract, short enough to read
_FINGERPRINT_LABEL = b"gomme extract key fingerprint v1\x00"
ADULT = 18
AGE_BAND = 10
OLDEST_BAND = 80  # everyone from this age on shares one band ("80+"): the few very old are easy to single out


@dataclass(frozen=True, slots=True)
class ExtractKey:
    """A fresh random key for one extract; kept apart from the extract, by the controller only."""

    secret: bytes = field(repr=False)

    @classmethod
    def fresh(cls) -> ExtractKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @property
    def fingerprint(self) -> str:
        """Names the key (audit log, register) without revealing it."""
        return hashlib.sha256(_FINGERPRINT_LABEL + self.secret).hexdigest()[:32]

    def pseudonym(self, kind: str, value: str | None) -> str:
        """The keyed pseudonym of `value` as a `kind` (record, email, phone, name…); empty stays empty."""
        normalised = normalise(kind, value)
        if not normalised:
            return ""
        digest = hmac.new(self.secret, f"{kind}\x00{normalised}".encode(), hashlib.sha256)
        return digest.hexdigest()[:PSEUDONYM_HEX]


def normalise(kind: str, value: str | None) -> str:
    """How an identifier is compared: an email or a name case-folded and trimmed, a phone by its digits."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value)).strip()
    if kind == "phone":
        return re.sub(r"\D", "", text)
    if kind == "record":
        return text
    return " ".join(text.casefold().split())


def age_band(birthdate: dt.date | None, today: dt.date) -> str:
    """`<18` for minors, then 10-year bands from 18 (`18-29`, `30-39`, …), `80+` at the end; empty if unknown."""
    if birthdate is None:
        return ""
    age = today.year - birthdate.year - ((today.month, today.day) < (birthdate.month, birthdate.day))
    if age < 0:
        return ""  # a birth date in the future says nothing true
    if age < ADULT:
        return f"<{ADULT}"
    if age >= OLDEST_BAND:
        return f"{OLDEST_BAND}+"
    low = ADULT if age < 30 else age - age % AGE_BAND
    high = 29 if low == ADULT else low + AGE_BAND - 1
    return f"{low}-{high}"


_FR_POSTCODE = re.compile(r"^\d{5}$")
# Postcodes of the French overseas departments and collectivities start with 97 or 98 and take a third digit.
_FR_OVERSEAS = ("97", "98")
# Countries whose postcodes are French ones (Monaco uses 980xx, the overseas collectivities their own 97x/98x).
_FRENCH_SYSTEM = frozenset({"FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF", "WF", "PF", "NC", "MC"})


def region(postcode: str | None, country: str | None) -> str:
    """The postcode generalised: in France its department (`FR-75`, `FR-2A`, `FR-971`), elsewhere the country only.

    A French postcode that is not 5 digits, or one without a country, is kept as the country (or empty): a
    region guessed from a malformed code could be wrong, and a wrong region is worse than a coarse one.
    """
    code = (country or "").strip().upper()
    text = re.sub(r"\s", "", postcode or "")
    if code in _FRENCH_SYSTEM and _FR_POSTCODE.match(text):
        if text.startswith(_FR_OVERSEAS):
            return f"FR-{text[:3]}"
        if text.startswith("20"):  # Corsica: 200xx-201xx Corse-du-Sud, 202xx-206xx Haute-Corse
            return "FR-2A" if text[2] in "01" else "FR-2B"
        return f"FR-{text[:2]}"
    return code


def month(value: dt.date | None) -> str:
    """A date or time generalised to its month (`2024-03`): the day says too much about one person."""
    return "" if value is None else f"{value.year:04d}-{value.month:02d}"


POSTCODE_FIELDS: tuple[str, ...] = (
    "postcode", "postal_code", "zip", "MailingPostalCode", "PersonMailingPostalCode", "PostalCode",
)  # fmt: skip
"""Where a CRM keeps the postcode (the record's own CRM fields), in the order they are tried."""


def postcode_of(raw: Mapping[str, object], names: tuple[str, ...] = POSTCODE_FIELDS) -> str | None:
    """The first non-empty postcode among the CRM's own fields `names`."""
    for name in names:
        value = raw.get(name)
        if value not in (None, ""):
            return str(value)
    return None
