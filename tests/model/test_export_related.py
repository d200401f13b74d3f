"""Access bundles and Art 15(4): a record shared with others is exported without their addresses and numbers."""

from __future__ import annotations

import pytest

from gomme.model.related import OTHER_PERSON, RelatedRecord, export_related

OWN = {"email": "ada.quill@example.org", "phone": "+33 6 12 34 56 78"}


@pytest.mark.parametrize(
    ("text", "shown", "withheld"),
    [
        ("Mail ada.quill@example.org or ADA.QUILL@example.org", "Mail ada.quill@example.org or ADA.QUILL@example.org",
         0),
        ("Mail bo@example.net", f"Mail {OTHER_PERSON}", 1),
        ("Ada on 06 12 34 56 78, Bo on 06 99 88 77 66", f"Ada on 06 12 34 56 78, Bo on {OTHER_PERSON}", 1),
        ("Ada on 0033 6.12.34.56.78", "Ada on 0033 6.12.34.56.78", 0),
        ("Met 2026-03-04 and 04/03/2026, order 1234567", "Met 2026-03-04 and 04/03/2026, order 1234567", 0),
        ("Bo: +49 30 1234 5678 / bo@example.de", f"Bo: {OTHER_PERSON} / {OTHER_PERSON}", 2),
    ],
)
def test_a_shared_record_keeps_the_persons_own_details_and_withholds_the_others(
    text: str, shown: str, withheld: int
) -> None:
    (row,) = export_related((RelatedRecord("Task", "t1", {"Description": text}, others=1),), **OWN)

    assert row["Description"] == shown
    assert row.get("withheld_for_others", 0) == withheld


def test_a_record_about_the_person_alone_is_exported_whole() -> None:
    text = "Bo (bo@example.net, 06 99 88 77 66) introduced Ada"
    (row,) = export_related((RelatedRecord("Task", "t1", {"Description": text}),), **OWN)

    assert row == {"object": "Task", "id": "t1", "Description": text, "other_people": 0}
