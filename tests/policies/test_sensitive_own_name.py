"""A person's own name is never a sensitive term about them, in their notes or in the activities beside them."""

from __future__ import annotations

import pytest
from policy_testkit import NOW, person

from gomme.model.related import RelatedRecord
from gomme.policies.sensitive import SensitiveNoteRule

RULE = SensitiveNoteRule(id="sensitive-note")


@pytest.mark.parametrize(
    ("first", "last", "note", "redacted"),
    [
        # decoys: the surname alone looks like a term (an origin, an insult's stem); must be kept
        ("Ana", "Romano", "Follow-up Romano", False),
        ("Harper", "Lee", "Reached Harper on 06 12 34 56 78.", False),
        # a real term beside the person's name still counts
        ("Ana", "Romano", "Ana Romano was treated for cancer last spring.", True),
        ("Harper", "Lee", "Harper Lee is a union rep (CGT) at the plant.", True),
    ],
)
def test_the_persons_own_name_is_not_a_sensitive_term(first: str, last: str, note: str, redacted: bool) -> None:
    own_note = person(first_name=first, last_name=last, notes={"description": note})
    in_activity = person(
        first_name=first, last_name=last, related=(RelatedRecord("Task", "t1", {"Description": note}),)
    )

    for record in (own_note, in_activity):
        assert (RULE.evaluate(record, NOW) is not None) is redacted, (note, record.notes or "activity")
