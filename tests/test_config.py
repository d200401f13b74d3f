"""Configuration: the example is valid; a broken file gets every problem listed with its path, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gomme.cli import app
from gomme.config import ConfigError, load_config_file

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def test_example_config_is_valid() -> None:
    config = load_config_file(ROOT / "config.example.toml")
    assert set(config.connectors) == {"local", "sf", "hs"}
    assert len(config.schedules) == 2


def test_config_check_accepts_the_example() -> None:
    secrets = {"SF_ACCESS_TOKEN": "synthetic-token", "HUBSPOT_TOKEN": "synthetic-token"}  # the variables it names
    result = runner.invoke(app, ["--config", str(ROOT / "config.example.toml"), "config", "check"], env=secrets)
    assert result.exit_code == 0, result.output
    assert "valid (3 connector(s)" in result.output


BROKEN = """
[state]
url = 5
colour = "blue"

[connectors.sf]
type = "salesforce"
access_token_env = "SF_TOKEN"

[connectors.hs]
type = "hubspot"
delete_mode = "shred"

[connectors.x]
type = "zoho"

[connectors.y]
path = "a.db"

[[policy.rules]]
id = "retention-prospect"
kind = "retention"
lifecycle = "prospect"
after = "three years"

[[schedules]]
job = "sweep"
connectors = ["nope"]
cron = "0 3 * *"
every = "5m"
"""

EXPECTED_PATHS = [
    "state.url",
    "state.colour",
    "connectors.sf",  # access token without instance_url
    "connectors.hs.delete_mode",
    "connectors.x.type",
    "connectors.y.type",
    "policy.rules[0].after",
    "schedules[0].cron",
]


def test_every_problem_is_reported_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    paths = [issue.path for issue in caught.value.issues]
    for expected in EXPECTED_PATHS:
        assert expected in paths, (expected, [str(i) for i in caught.value.issues])


def test_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BROKEN)
    result = runner.invoke(app, ["--config", str(path), "config", "check"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "connectors.sf: instance_url: missing" in result.output
    assert "connectors.x.type: unknown connector type 'zoho'" in result.output


@pytest.mark.parametrize(
    ("toml", "path", "said"),
    [
        ('[register]\ncontroler = "x"\n', "register.controler", "did you mean `controller`?"),
        ('[requests]\ndeadline = 30\n', "requests.deadline", "allowed here: export_dir"),
        ('[[schedules]]\njob = "sweep"\nevry = "1h"\n', "schedules[0].evry", "did you mean `every`?"),
        ('[register.systems.crm]\npurpose = "x"\n', "register.systems.crm.purpose",
         "allowed here: hosting, transfer_basis"),
        ('[connectors.crm]\ntype = "local"\npath = "c.db"\nmax_attempt = 2\n', "connectors.crm.max_attempt",
         "unknown key"),
    ],
)
def test_an_unknown_key_is_named_with_what_is_allowed(tmp_path: Path, toml: str, path: str, said: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config_file(config)
    messages = {issue.path: issue.message for issue in caught.value.issues}
    assert path in messages, messages
    assert said in messages[path] and "Extra inputs" not in messages[path]


def test_semantic_checks_run_when_the_shape_is_right(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[connectors.a]\ntype = "local"\npath = "a.db"\n'
                    '[[schedules]]\njob = "sweep"\nconnectors = ["b"]\ncron = "0 3 * * *"\nevery = "5m"\n')
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert [str(i) for i in caught.value.issues] == [
        "schedules[0]: give exactly one of `cron` or `every`",
        "schedules[0].connectors: no connector named 'b' in [connectors]",
    ]


def test_unreadable_and_invalid_toml_are_clear(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["--config", str(tmp_path / "nope.toml"), "config", "check"])
    assert missing.exit_code == 2 and "cannot read the file" in missing.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[state\n")
    invalid = runner.invoke(app, ["--config", str(bad), "config", "check"])
    assert invalid.exit_code == 2 and "not valid TOML" in invalid.output


def test_config_from_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[connectors.mine]\ntype = "local"\npath = "mine.db"\n')
    monkeypatch.setenv("GOMME_CONFIG", str(path))
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 0 and str(path) in result.output


def test_relative_state_paths_follow_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[state]\nurl = "sqlite:///s/state.db"\nkey_file = "k/secret.key"\n')
    config = load_config_file(path)
    assert config.state_url() == f"sqlite:///{tmp_path}/s/state.db"
    assert config.key_file() == tmp_path / "k" / "secret.key"


# -- where the configuration comes from: never the demo's by accident -------------------------------------

LOCAL_CRM = '[connectors.{name}]\ntype = "local"\npath = "crm.db"\n'


def _write(path: Path, name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LOCAL_CRM.format(name=name))
    return path


def test_without_any_configuration_a_command_stops_and_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["request", "erase", "--email", "someone@example.com", "--now"])
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert "no configuration" in flat and "gomme.toml" in flat and "GOMME_CONFIG" in flat and "gomme demo" in flat
    assert "someone@example.com" not in result.output
    assert list(tmp_path.iterdir()) == []  # nothing created: no demo CRM, no state


@pytest.mark.parametrize(
    ("present", "used"),
    [
        (("gomme.toml", "config.toml", "xdg"), "gomme.toml"),
        (("config.toml", "xdg"), "config.toml"),
        (("xdg",), "xdg"),
    ],
)
def test_the_configuration_is_found_in_the_folder_then_in_the_users_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, present: tuple[str, ...], used: str
) -> None:
    work, home = tmp_path / "work", tmp_path / "config-home"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    paths = {
        name: _write(home / "gomme" / "config.toml" if name == "xdg" else work / name, name.replace(".", "_"))
        for name in present
    }
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert str(paths[used]) in "".join(result.output.split())  # the path may wrap on the terminal


def test_an_explicit_configuration_wins_over_the_ones_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "gomme.toml", "here")
    chosen = _write(tmp_path / "elsewhere" / "mine.toml", "mine")
    result = runner.invoke(app, ["--config", str(chosen), "config", "check"])
    assert result.exit_code == 0 and str(chosen) in "".join(result.output.split())
