"""config.example.toml holds every block and every option of the config model, each commented, each valid.

The example is gomme/scaffold.py's output (the source `gomme init` writes from too). An option is in it when
its key is set (`key = value`) or shown commented out (`# key = value`) in its block, or when its table is
(`[connectors.sf.lifecycle_map]`); either way a comment says what it does, on the line or right above it, and
a commented-out value must be one the option accepts. A new option in gomme/config.py or in a connector's
settings fails here until the scaffold documents it.
"""

from __future__ import annotations

import re
import tomllib
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from gomme.config import FileSettings, load_config_file
from gomme.connectors.registry import BUILTIN, connector_type
from gomme.scaffold import CRM_TYPES, example_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
POLICY_KEYS = ("extends", "file", "rules")  # [policy] is the policy's own document (README "Policies")
_HEADER = re.compile(r"^(?P<comment>#\s*)?\[\[?\s*(?P<name>[A-Za-z0-9_.\"-]+)\s*\]\]?\s*(?P<inline>#.*)?$")


@dataclass(frozen=True)
class Line:
    """An option or a table header of the example, in its section (the table it belongs to)."""

    number: int
    section: str
    key: str  # "" for a table header
    value: Any
    commented_out: bool
    explained: bool  # an inline comment, or a comment line of prose right above


def _has_inline_comment(text: str) -> bool:
    """A `#` outside TOML strings."""
    quote = ""
    escaped = False
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return True
    return False


def _option(text: str) -> tuple[str, Any] | None:
    """`key = value` as TOML reads it, when the text is one such line."""
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    if len(parsed) != 1 or "=" not in text.split("#", 1)[0]:
        return None
    [(key, value)] = parsed.items()
    return key, value


def example_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    section = ""
    previous_is_prose = False
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        commented = stripped.startswith("#")
        body = stripped.lstrip("#").strip() if commented else stripped
        header = _HEADER.match(stripped)
        option = None if header else _option(body)
        if header:
            section = header["name"].replace('"', "")
            explained = previous_is_prose or bool(header["inline"])
            lines.append(Line(number, section, "", None, bool(header["comment"]), explained))
        elif option:
            key, value = option
            lines.append(Line(number, section, key, value, commented, previous_is_prose or _has_inline_comment(body)))
        previous_is_prose = commented and not header and not option
    return lines


@dataclass(frozen=True)
class Block:
    """A table of the config and the pydantic model its keys are the fields of."""

    section: str
    model: type[BaseModel]


def _model_in(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """('one', M) for a model field, ('list', M) for list[M], ('dict', M) for dict[str, M]; None otherwise."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "one", annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    inner = args[-1] if args else None
    if origin in (list, dict) and isinstance(inner, type) and issubclass(inner, BaseModel):
        return ("list" if origin is list else "dict"), inner
    return None


def model_blocks(lines: list[Line]) -> Iterator[Block]:
    """Every block of the example that a model governs: FileSettings' own, nested ones, each connector's."""
    sections = {line.section for line in lines if not line.commented_out}

    def walk(section: str, model: type[BaseModel]) -> Iterator[Block]:
        yield Block(section, model)
        for name, field in model.model_fields.items():
            found = _model_in(field.annotation)
            if found is None:
                continue
            shape, inner = found
            path = f"{section}.{field.alias or name}".lstrip(".")
            if shape == "dict":
                entries = sorted(
                    s for s in sections if s.startswith(f"{path}.") and s.count(".") == path.count(".") + 1
                )
                assert entries, f"no [{path}.<name>] table in the example"
                for entry in entries:
                    yield from walk(entry, inner)
            else:
                yield from walk(path, inner)

    yield from walk("", FileSettings)
    types = {line.section: line.value for line in lines if line.key == "type" and not line.commented_out}
    for section, type_name in types.items():
        yield Block(section, connector_type(type_name).Settings)


def _fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {field.alias or name: field for name, field in model.model_fields.items()}


@pytest.fixture(scope="module")
def lines() -> list[Line]:
    return example_lines(EXAMPLE.read_text(encoding="utf-8"))


def test_the_example_is_what_the_scaffold_writes() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == example_config(), (
        "config.example.toml is generated: edit gomme/scaffold.py, then python -m gomme.scaffold > config.example.toml"
    )


def test_the_example_loads_through_the_config_model_with_every_builtin_crm() -> None:
    config = load_config_file(EXAMPLE)
    assert {getattr(settings, "type") for settings in config.connectors.values()} == set(BUILTIN) == set(CRM_TYPES)  # noqa: B009
    assert set(config.register.systems) == set(config.connectors)
    assert [schedule.job for schedule in config.schedules] == ["sweep", "requests"]


def test_every_option_of_the_config_model_is_in_the_example_and_explained(lines: list[Line]) -> None:
    missing, unexplained = [], []
    for block in model_blocks(lines):
        for key in _fields(block.model):
            path = f"{block.section}.{key}".lstrip(".")
            found = [line for line in lines if (line.section, line.key) == (block.section, key)]
            found += [
                line for line in lines if not line.key and (line.section == path or line.section.startswith(f"{path}."))
            ]
            if not found:
                missing.append(path)
            elif not any(line.explained for line in found):
                unexplained.append(f"{path} (line {found[0].number})")
    assert not missing, f"options missing from config.example.toml (add them to gomme/scaffold.py): {missing}"
    assert not unexplained, f"options with no comment saying what they do: {unexplained}"


def test_the_policy_block_shows_its_keys(lines: list[Line]) -> None:
    keys = {line.key for line in lines if line.section == "policy"} | {
        line.section.removeprefix("policy.") for line in lines if line.section.startswith("policy.")
    }
    assert set(POLICY_KEYS) <= keys


def test_every_commented_out_option_is_an_option_with_a_valid_value(lines: list[Line]) -> None:
    blocks = {block.section: block.model for block in model_blocks(lines)}
    problems = []
    for line in lines:
        if not line.key or not line.commented_out or line.section not in blocks:
            continue
        field = _fields(blocks[line.section]).get(line.key)
        if field is None:
            problems.append(f"line {line.number}: {line.key} is not an option of [{line.section}]")
            continue
        try:
            kind = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
            TypeAdapter(kind).validate_python(line.value)
        except ValidationError as error:
            problems.append(f"line {line.number}: {line.key} = {line.value!r}: {error.errors()[0]['msg']}")
    assert not problems, problems


def test_the_checks_catch_a_missing_an_unexplained_and_a_wrong_option() -> None:
    # the same checks on damaged copies of the example: they are not vacuous
    text = example_config()
    damaged = example_lines(
        text.replace("# hard_delete = false", "# hard_deletion = false")  # a typo: not an option
        .replace('level = "info"               # debug | info | warning | error; or --log-level\n', "")
        .replace("# requests_per_second = 10               # client-side", "# requests_per_second = -1   # client-side")
    )
    with pytest.raises(AssertionError, match=r"logging\.level.*connectors\.sf\.hard_delete"):
        test_every_option_of_the_config_model_is_in_the_example_and_explained(damaged)
    with pytest.raises(AssertionError, match=r"hard_deletion is not an option.*requests_per_second = -1"):
        test_every_commented_out_option_is_an_option_with_a_valid_value(damaged)
    unexplained = example_lines(text.replace('format = "auto"              # auto', 'format = "auto"\n# auto'))
    with pytest.raises(AssertionError, match=r"no comment saying what they do: \['logging\.format \(line"):
        test_every_option_of_the_config_model_is_in_the_example_and_explained(unexplained)
