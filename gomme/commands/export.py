"""`gomme export --pseudonymise`, `export reidentify`, `export pseudonym`: processor extracts (docs/extracts.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO

from rich.console import Console

from gomme.commands import UsageError
from gomme.jobs.extract import (
    ExtractError,
    ExtractResult,
    ExtractSpec,
    KeyFileError,
    MinKNotMet,
    column_of,
    read_key_file,
    record_pseudonym,
    reidentify,
    run_extract,
)
from gomme.model.conditions import PullQuery
from gomme.state.clock import utc_now
from gomme.wiring import App, default_actor


def split_fields(values: Sequence[str]) -> tuple[str, ...]:
    """`--fields a,b --fields c` → (a, b, c)."""
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


def checked_paths(output: Path, key_output: Path | None) -> tuple[Path, Path]:
    """The extract's and the key's paths, refused before anything is read when they cannot be written safely."""
    key_file = key_output or output.with_name(output.name + ".key")
    for label, path in (("--output", output), ("--key-output", key_file)):
        if not path.parent.is_dir():
            raise UsageError(f"{label}: the directory {path.parent} does not exist; create it or choose another path")
        if path.exists():
            why = "an older extract's key must not be lost" if path == key_file else "an extract is never overwritten"
            raise UsageError(f"{label}: {path} already exists; choose a new file ({why})")
    if key_file.resolve() == output.resolve():
        raise UsageError("--key-output: the key must not be written over the extract; choose another file")
    return output, key_file


def export_extract(app: App, spec: ExtractSpec, output: Path, key_output: Path | None, console: Console) -> int:
    try:
        spec = spec.validated()
    except ExtractError as exc:
        raise UsageError(str(exc)) from None
    app.connector_names([spec.connector])
    output, key_file = checked_paths(output, key_output)
    engine, keyring = app.engine(), app.keyring()
    with app.connector(spec.connector) as connector:
        try:
            result = run_extract(connector, spec, output=output, key_file=key_file, engine=engine, keyring=keyring,
                                 now=utc_now(), actor=default_actor(), policy_hash=app.config.policy.hash)
        except MinKNotMet as exc:
            quasi = ", ".join(name for name in spec.fields if column_of(name) in spec.quasi_identifiers)
            raise UsageError(
                f"{exc}: nothing written. Leave a quasi-identifier ({quasi}) out of --fields, or lower --min-k"
            ) from None
    app.anchor()
    _print_result(spec, result, console)
    return 0


def _print_result(spec: ExtractSpec, result: ExtractResult, console: Console) -> None:
    def say(text: str) -> None:
        console.print(text, soft_wrap=True, markup=False, highlight=False)

    say(f"extract written to {result.output} ({result.fmt}): {result.rows} row(s), columns: {', '.join(spec.columns)}")
    quasi = ", ".join(result.quasi_identifiers) or "none chosen"
    if result.k is None:
        say(f"k-anonymity: no row, nothing to single out (quasi-identifiers: {quasi})")
    elif result.k == 1:
        say(f"k-anonymity: k = 1 over {quasi} ({result.groups} group(s)): some rows are alone in their group, so "
            "their quasi-identifiers single a person out; use --min-k to refuse such an extract")
    else:
        say(f"k-anonymity: k = {result.k} over {quasi} ({result.groups} group(s)): every row shares its "
            f"quasi-identifiers with at least {result.k - 1} other(s)")
    if result.left_out:
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(result.left_out.items()))
        say(f"left out: {reasons} (never handed to a processor)")
    say(f"notes: {'redacted sentence by sentence' if spec.notes else 'dropped'}")
    say(f"key: {result.key_file} (0600, fingerprint {result.key_fingerprint[:12]}): keep it with the controller, "
        "never send it with the extract; it re-identifies rows with `gomme export reidentify`")
    say(f"recorded in the audit log and the Art 30 register: recipient {spec.recipient}, transfer basis "
        f"{spec.transfer_basis or 'not stated (the register will show it missing)'}")


def reidentify_pseudonym(
    app: App, key_path: Path, pseudonym: str, connector: str | None, stream: IO[str], console: Console
) -> int:
    """Print the record(s) of `connector` (default: the extract's) whose pseudonym under the key is `pseudonym`."""
    try:
        key = read_key_file(key_path)
    except KeyFileError as exc:
        raise UsageError(str(exc)) from None
    name = connector or key.connector
    app.connector_names([name])
    found = 0
    with app.connector(name) as crm:
        for match in reidentify(crm.pull(PullQuery(everything=True)), key.key, pseudonym, key.pseudonymised):
            found += 1
            stream.write(f"{name} {match.object_type} {match.record_id} (its {match.field})\n")
    if not found:
        console.print(f"no record of {name} has this pseudonym under this key (wrong key, or the record is gone)",
                      soft_wrap=True, markup=False)
        return 1
    return 0


def pseudonym_of(key_path: Path, object_type: str, record_id: str, stream: IO[str]) -> int:
    """Print the pseudonym a record has in the extract made with this key (no CRM is read)."""
    try:
        key = read_key_file(key_path)
    except KeyFileError as exc:
        raise UsageError(str(exc)) from None
    stream.write(record_pseudonym(key.key, key.connector, object_type, record_id) + "\n")
    return 0
