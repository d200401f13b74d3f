"""`country_code`: the free-text countries CRMs hold → ISO 3166-1 alpha-2, never a guess."""

from __future__ import annotations

import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gomme.model.countries import _normal_form, ambiguous_names, country_code, indexed_names, languages_used

ALPHA_2: frozenset[str] = frozenset(c.alpha_2 for c in pycountry.countries)
COUNTRIES = sorted(pycountry.countries, key=lambda c: c.alpha_2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # English, any case, stray spaces
        ("France", "FR"),
        ("FRANCE ", "FR"),
        ("france", "FR"),
        ("Germany", "DE"),
        ("United Kingdom", "GB"),
        ("United States", "US"),
        ("Ireland", "IE"),
        ("Portugal", "PT"),
        ("Czech Republic", "CZ"),  # ISO official_name; the short name is "Czechia"
        ("The Netherlands", "NL"),  # leading "the" dropped
        # Translations pycountry ships
        ("Allemagne", "DE"),
        ("Deutschland", "DE"),
        ("Royaume-Uni", "GB"),
        ("Royaume Uni", "GB"),
        ("royaume-uni", "GB"),
        ("ROYAUME-UNI", "GB"),
        ("Etats-Unis", "US"),
        ("États-Unis", "US"),
        ("España", "ES"),
        ("Espana", "ES"),
        ("Spanien", "ES"),
        ("Espagne", "ES"),
        ("Italia", "IT"),
        ("Italien", "IT"),
        ("Belgique", "BE"),
        ("België", "BE"),
        ("Belgien", "BE"),
        ("Nederland", "NL"),
        ("Pays-Bas", "NL"),
        ("Niederlande", "NL"),
        ("Österreich", "AT"),
        ("Oesterreich", "AT"),  # umlaut spelt oe
        ("Osterreich", "AT"),  # umlaut dropped
        ("Autriche", "AT"),
        ("Schweiz", "CH"),
        ("Suisse", "CH"),
        ("Svizzera", "CH"),
        ("Polska", "PL"),
        ("Sverige", "SE"),
        ("Danmark", "DK"),
        ("Suomi", "FI"),
        ("Ελλάδα", "GR"),
        ("Česko", "CZ"),
        ("Éire", "IE"),
        ("Luxemburg", "LU"),
        ("Norge", "NO"),
        # pycountry ships no Luxembourgish catalogue and no other language names it so: unknown, not guessed
        ("Lëtzebuerg", "LU"),
        ("Turkey", "TR"),
        ("NA", None),  # a valid code, but "not available" in a CRM: never Namibia
        ("n/a", None),
        # Codes
        ("FR", "FR"),
        ("fr", "FR"),
        ("DEU", "DE"),
        ("GBR", "GB"),
        ("USA", "US"),
        # The alias table
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("Great Britain", "GB"),
        ("Britain", "GB"),
        ("England", "GB"),
        ("Scotland", "GB"),
        ("Wales", "GB"),
        ("Northern Ireland", "GB"),
        ("U.S.", "US"),
        ("U.S.A.", "US"),
        ("US of A", "US"),
        ("America", "US"),
        ("Holland", "NL"),
        ("EL", "GR"),
        # pycountry's inverted names, turned round or cut at the comma when that names one country
        ("Korea, Republic of", "KR"),
        ("Republic of Korea", "KR"),
        ("Bolivia, Plurinational State of", "BO"),
        ("Plurinational State of Bolivia", "BO"),
        ("Micronesia", "FM"),
        ("Democratic Republic of the Congo", "CD"),
        ("Congo", "CG"),  # ISO's short name of CG; CD's "Congo, ..." does not take it over
        ("British Virgin Islands", "VG"),
        ("Holy See", "VA"),
        # Shared by two countries: None, never one of them
        ("Korea", None),
        ("Virgin Islands", None),
        # Junk
        ("N/A", None),
        ("-", None),
        ("Atlantis", None),
        ("Europe", None),
        ("", None),
        ("   ", None),
        ("12345", None),
        ("250", None),  # ISO numeric codes are not indexed: in a country field a number is a postcode more often
        (None, None),
    ],
)
def test_country_code(value: str | None, expected: str | None) -> None:
    assert country_code(value) == expected


def test_ambiguous_names_give_none() -> None:
    assert {"korea", "virgin islands"} <= ambiguous_names()
    for name in ambiguous_names():
        assert country_code(name) is None


def test_languages_and_size() -> None:
    used = languages_used()
    assert used[0] == "en"
    assert {"fr", "de", "es", "it", "nl", "pt", "pl", "el", "ga", "mt"} <= set(used)
    assert "lb" not in used  # not shipped by pycountry: skipped quietly
    assert indexed_names() > 5000


def test_every_country_code_and_english_name_maps_back() -> None:
    for country in COUNTRIES:
        if country.alpha_2 == "NA":
            assert country_code("NA") is None and country_code("Namibia") == "NA"
            continue
        assert country_code(country.alpha_2) == country.alpha_2
        assert country_code(country.alpha_3) == country.alpha_2
        expected = None if _normal_form(country.name) in ambiguous_names() else country.alpha_2
        assert country_code(country.name) == expected, country.name


def _scramble_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(ch.upper() if flip else ch.lower() for ch, flip in zip(text, flips, strict=True))


@st.composite
def _typed_country(draw: st.DrawFn) -> tuple[str, str | None]:
    country = draw(st.sampled_from(COUNTRIES))
    field = draw(st.sampled_from(["alpha_2", "alpha_3", "name"]))
    text: str = getattr(country, field)
    expected = None if field == "name" and _normal_form(text) in ambiguous_names() else country.alpha_2
    if field == "alpha_2" and text == "NA":
        expected = None  # "NA" in a CRM means "not available", never Namibia
    padding = st.text(alphabet=" \t.-", max_size=3)
    return draw(padding) + _scramble_case(draw, text) + draw(padding), expected


@settings(max_examples=200, deadline=None)
@given(_typed_country())
def test_codes_and_english_names_as_typed(typed: tuple[str, str | None]) -> None:
    value, expected = typed
    assert country_code(value) == expected


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(value: str) -> None:
    code = country_code(value)
    assert code is None or code in ALPHA_2
