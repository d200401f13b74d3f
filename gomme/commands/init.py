"""`gomme init`: write a commented configuration for the CRMs named, one `gomme config check` accepts.

The text comes from gomme/scaffold.py, the source of config.example.toml too, so the two cannot drift. It
is loaded through the config model before it is written: what `gomme init` writes is a valid configuration,
waiting only for the secrets its `*_env` keys name.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from gomme.commands import UsageError
from gomme.commands.config_check import env_references
from gomme.config import parse_config
from gomme.scaffold import CONNECTOR_NAMES, CRM_TYPES, render_config


def init_config(crms: Sequence[str], output: Path, console: Console, *, force: bool = False) -> int:
    """Write the scaffold for `crms` to `output` (refusing to replace a file unless `force`) and say what next."""
    chosen = _crm_types(crms)
    if output.is_dir():
        raise UsageError(f"{output} is a folder: give --output a file name, such as {output / 'config.toml'}")
    if output.exists() and not force:
        raise UsageError(
            f"{output} already exists: nothing was written. Choose another --output, or --force to replace it"
        )
    text = render_config(chosen, file_name=str(output))
    config = parse_config(tomllib.loads(text), source=str(output), base_dir=output.absolute().parent)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("w" if force else "x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        raise UsageError(f"{output} already exists: nothing was written. Choose another --output, or --force") from None
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    variables = list(dict.fromkeys(reference.variable for reference in env_references(config)))
    connectors = ", ".join(f"{CONNECTOR_NAMES[crm]} ({crm})" for crm in chosen)
    steps = ["fill in what is yours: URLs, custom fields, the [register] block (the comments say what each does)"]
    if variables:
        steps.append(f"export {', '.join(variables)} with the secrets, where gomme runs (never in the file)")
    if "local" in chosen:
        template = "gomme local import --template people.csv; fill it in"
        steps.append(f"{template}; gomme --config {output} local import people.csv")
    steps += [
        f"gomme --config {output} config check --online",
        f"gomme --config {output} sweep    (a dry run: read the plan before any --apply)",
    ]
    console.print(f"wrote {output}: connectors {connectors}. Next:", soft_wrap=True, markup=False, highlight=False)
    for number, step in enumerate(steps, start=1):
        console.print(f"  {number}. {step}", soft_wrap=True, markup=False, highlight=False)
    return 0


def _crm_types(crms: Sequence[str]) -> list[str]:
    if not crms:
        raise UsageError(f"name the CRMs to configure: --crm {' --crm '.join(CRM_TYPES)} (one or more)")
    unknown = [crm for crm in crms if crm not in CRM_TYPES]
    if unknown:
        raise UsageError(f"--crm: unknown CRM type {', '.join(unknown)}; one of {', '.join(CRM_TYPES)}")
    return list(dict.fromkeys(crms))
