"""`gomme init` writes a commented configuration for the CRMs named; `gomme config check` accepts it once the
environment variables it names are set, and says which ones are not (exit 2)."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gomme.cli import app
from gomme.config import parse_config
from gomme.scaffold import CONNECTOR_NAMES, CRM_TYPES, render_config

runner = CliRunner()
SECRETS = {"SF_ACCESS_TOKEN": "synthetic-token", "HUBSPOT_TOKEN": "synthetic-token"}
COMBINATIONS = [list(c) for n in range(1, len(CRM_TYPES) + 1) for c in itertools.combinations(CRM_TYPES, n)]


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*SECRETS, "GOMME_CONFIG", "GOMME_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-home"))


@pytest.mark.parametrize("crms", COMBINATIONS, ids=["+".join(c) for c in COMBINATIONS])
def test_every_scaffold_loads_through_the_config_model(tmp_path: Path, crms: list[str]) -> None:
    config = parse_config(tomllib.loads(render_config(crms)), source="scaffold", base_dir=tmp_path)
    names = [CONNECTOR_NAMES[crm] for crm in crms]
    assert list(config.connectors) == names
    assert [getattr(config.connectors[name], "type") for name in names] == crms  # noqa: B009
    assert list(config.register.systems) == names
    assert [schedule.apply for schedule in config.schedules] == [False, False]  # nothing written unasked
    assert config.policy.hash  # the cnil pack


def test_init_writes_a_config_that_config_check_accepts_once_its_secrets_are_set(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "gomme.toml"
    result = runner.invoke(app, ["init", "--crm", "salesforce", "--crm", "hubspot", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert f"wrote {target}: connectors sf (salesforce), hs (hubspot)" in result.output
    assert "export SF_ACCESS_TOKEN, HUBSPOT_TOKEN" in result.output
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# gomme configuration for salesforce, hubspot, written by `gomme init`.")
    assert "[connectors.sf]" in text and "[connectors.hs]" in text and "[connectors.local]" not in text

    unset = runner.invoke(app, ["--config", str(target), "config", "check"])
    assert unset.exit_code == 2
    assert "the file is valid (2 connector(s)" in unset.output
    assert "2 environment variable(s) it names are not set" in unset.output
    assert "connectors.sf.access_token_env: SF_ACCESS_TOKEN is not set" in unset.output
    assert "connectors.hs.access_token_env: HUBSPOT_TOKEN is not set" in unset.output

    one = runner.invoke(app, ["--config", str(target), "config", "check"], env={"HUBSPOT_TOKEN": "synthetic"})
    assert (
        one.exit_code == 2 and "SF_ACCESS_TOKEN is not set" in one.output and "HUBSPOT_TOKEN is not" not in one.output
    )

    ready = runner.invoke(app, ["--config", str(target), "config", "check"], env=SECRETS)
    assert ready.exit_code == 0, ready.output
    assert f"{target}: valid (2 connector(s)" in ready.output and "environment variable(s)" not in ready.output


def test_init_never_replaces_a_file_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    target.write_text("# my own configuration\n", encoding="utf-8")
    refused = runner.invoke(app, ["init", "--crm", "local", "-o", str(target)])
    assert refused.exit_code == 2
    assert "already exists: nothing was written" in refused.output and "--force" in refused.output
    assert target.read_text(encoding="utf-8") == "# my own configuration\n"
    forced = runner.invoke(app, ["init", "--crm", "local", "-o", str(target), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "[connectors.local]" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ([], "name the CRMs to configure: --crm local --crm salesforce --crm hubspot"),
        (["--crm", "zoho"], "--crm: unknown CRM type zoho; one of local, salesforce, hubspot"),
        (["--crm", "local", "-o", "."], "is a folder"),
    ],
)
def test_init_usage_errors_exit_2_and_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], problem: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["init", *args])
    assert result.exit_code == 2
    assert problem in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == [tmp_path / "state-home"] or list(tmp_path.iterdir()) == []


def test_from_init_to_a_first_dry_run_on_a_local_crm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # README's path: init, the import template, an import, the check, a dry run; no secret to set
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["init", "--crm", "local"]).exit_code == 0  # ./config.toml, found without --config
    assert runner.invoke(app, ["local", "import", "--template", "people.csv"]).exit_code == 0
    with (tmp_path / "people.csv").open("a", encoding="utf-8") as file:
        file.write("p1,contact,p1@example.org,Test,Person,,FR,,2015-01-01,2016-01-01,prospect,,,,,,,,,,,\n")  # due
        for n in range(2, 41):  # customers under contract: kept (the [sweep] guard allows 5% of changes)
            file.write(f"p{n},contact,p{n}@example.org,Test,Person,,FR,,2015-01-01,,customer,2099-12-31,,,,,,,,,,\n")
    imported = runner.invoke(app, ["local", "import", "people.csv"])
    assert imported.exit_code == 0, imported.output
    check = runner.invoke(app, ["config", "check"])
    assert check.exit_code == 0, check.output
    assert "config.toml: valid (1 connector(s)" in check.output
    assert "note: state key: GOMME_SECRET_KEY is not set" in check.output
    sweep = runner.invoke(app, ["sweep"])
    assert sweep.exit_code == 0, sweep.output
    assert "planned 1" in sweep.output and "Dry run: nothing was written" in sweep.output
    assert (tmp_path / "state-home" / "gomme" / "gomme.db").is_file()  # the scaffold keeps the default state
    assert (tmp_path / "state-home" / "gomme" / "secret.key").is_file()


def test_config_check_names_every_secret_variable_a_connector_names(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[connectors.sf]\ntype = "salesforce"\nusername = "integration@example.com"\npassword_env = "SF_PW"\n'
        'security_token_env = "SF_ST"\n'
        '[connectors.hs]\ntype = "hubspot"\nclient_id = "c"\nclient_secret_env = "HS_CS"\nrefresh_token_env = "HS_RT"\n'
        '[state]\nurl = "postgresql+psycopg://gomme:written-here@db.example.org/gomme"\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["--config", str(config), "config", "check"], env={"SF_PW": "x", "HS_CS": ""})
    assert result.exit_code == 2
    lines = [line.strip() for line in result.output.splitlines() if line.strip().startswith("connectors.")]
    assert lines == [
        "connectors.sf.security_token_env: SF_ST is not set",
        "connectors.hs.client_secret_env: HS_CS is not set",  # empty counts as unset
        "connectors.hs.refresh_token_env: HS_RT is not set",
    ]
    assert "note: state.url holds a password: move it to PGPASSWORD" in result.output
    assert "written-here" not in result.output
