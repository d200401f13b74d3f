"""The container image and the deploy/ examples that run it, tested as far as a machine without Docker can.

Base images cannot be pulled here, so the image is not built. What is tested instead: the Dockerfile (a fixed
non-root user, `gomme` as entrypoint, a health check on the daemon's /healthz, every path the container writes
under a declared volume or the scratch dir), the build context .dockerignore lets in, the compose file and the
Kubernetes manifests (read-only root filesystem, non-root, the same user, volumes and port), and the steps the
image runs: the package built from that context alone, then `gomme --version`, `gomme config check` and
`gomme db upgrade` with the environment the image and the compose file set, as a process that can write only
to the state and scratch directories (HOME and the configuration's folder are not writable).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from gomme.commands.config_check import env_references
from gomme.config import load_config_file
from gomme.jobs.health import parse_address
from gomme.state.keys import ENV_VAR as SECRET_KEY_VAR

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]
NOBODY = 65534  # owner of what the process must not write, when the test runs as root


@dataclass
class Stage:
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]

    def env(self) -> dict[str, str]:
        pairs = [token.split("=", 1) for args in self.args("ENV") for token in shlex.split(args)]
        return dict((key, value) for key, value in pairs)


def dockerfile_stages(text: str) -> list[Stage]:
    """The Dockerfile's stages, each with its instructions (continuation lines joined, comments dropped)."""
    stages: list[Stage] = []
    logical = ""
    for line in text.splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        logical += line.rstrip().removesuffix("\\") + " "
        if line.rstrip().endswith("\\"):
            continue
        name, _, args = logical.strip().partition(" ")
        logical = ""
        if name.upper() == "FROM":
            stages.append(Stage(args.split()[0]))
        else:
            stages[-1].instructions.append((name.upper(), args.strip()))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return dockerfile_stages((ROOT / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def image(stages: list[Stage]) -> Stage:
    return stages[-1]


def _uid(image: Stage) -> int:
    [user] = image.args("USER")
    return int(user.split(":")[0])


def _volumes(image: Stage) -> list[str]:
    return [path for args in image.args("VOLUME") for path in json.loads(args)]


def _writable(image: Stage) -> list[PurePosixPath]:
    """Where the container may write: its volumes and its scratch dir."""
    return [PurePosixPath(path) for path in [*_volumes(image), image.env()["TMPDIR"]]]


def _deploy_config(image: Stage, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("XDG_STATE_HOME", image.env()["XDG_STATE_HOME"])
    return load_config_file(DEPLOY / "config.toml")


def test_the_image_is_python_slim_runs_gomme_as_a_fixed_non_root_user_and_checks_health(
    stages: list[Stage], image: Stage
) -> None:
    assert [stage.base for stage in stages] == ["python:3.11-slim"] * 2
    uid = _uid(image)
    assert uid >= 1000, "a fixed, numeric, non-root uid (Kubernetes' runAsNonRoot needs a number)"
    assert any(f"--uid {uid}" in run and "useradd" in run for run in image.args("RUN"))
    assert image.args("ENTRYPOINT") == ['["gomme"]']
    assert PYPROJECT["project"]["scripts"]["gomme"] == "gomme.cli:main"
    [health] = image.args("HEALTHCHECK")
    command = json.loads(health.split("CMD", 1)[1])
    assert command[0] == "python" and "/healthz" in command[-1]
    port = parse_address(load_config_file(DEPLOY / "config.toml").daemon.address)[1]
    assert f":{port}/healthz" in command[-1] and image.args("EXPOSE") == [str(port)]
    # the build stage installs the package in a virtual environment the runtime stage copies, read-only
    assert any("pip install /src" in run for run in stages[0].args("RUN"))
    assert any(copy.startswith("--from=build /opt/gomme") for copy in image.args("COPY"))
    assert image.env()["PATH"].startswith("/opt/gomme/bin:")


def test_every_path_the_container_writes_is_a_declared_volume_or_the_scratch_dir(
    image: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    writable = _writable(image)
    env = image.env()
    state_home = PurePosixPath(env["XDG_STATE_HOME"]) / "gomme"
    assert state_home in writable, "the state home is a VOLUME"
    assert any(f"--owner={_uid(image)}" in run and str(state_home) in run for run in image.args("RUN"))
    config = _deploy_config(image, monkeypatch)
    database = PurePosixPath(config.state_url().removeprefix("sqlite:///"))
    written = {
        "state database": database,
        "its lock files": PurePosixPath(f"{database}.locks"),
        "key file": PurePosixPath(config.key_file()),
        "access bundles": PurePosixPath(config.export_dir()),
        "anchor file": PurePosixPath(config.anchor_file()),
    }
    outside = {what: str(path) for what, path in written.items() if not any(path.is_relative_to(w) for w in writable)}
    assert not outside, f"written outside the volumes {writable}: {outside}"
    # the configuration and HOME are read-only: neither is in a writable place
    for path in (env["GOMME_CONFIG"], env["HOME"]):
        assert not any(PurePosixPath(path).is_relative_to(w) for w in writable), path


def test_the_build_context_holds_what_the_install_needs_and_nothing_else() -> None:
    allowed = _dockerignore_allowed()
    needed = {
        "pyproject.toml",
        PYPROJECT["project"]["readme"],
        *PYPROJECT["tool"]["setuptools"]["package-dir"].values(),
    }
    assert allowed == needed
    lines = [line for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines() if line[:1] != "#"]
    assert lines[0] == "*"  # everything else is left out


def _dockerignore_allowed() -> set[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return {line[1:].rstrip("/") for line in lines if line.startswith("!")}


def test_the_secrets_example_names_every_variable_the_deploy_config_needs(
    image: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _deploy_config(image, monkeypatch)
    listed = [line.split("=", 1)[0] for line in _secrets_example() if "=" in line]
    assert set(listed) == {SECRET_KEY_VAR, *(reference.variable for reference in env_references(config))}
    assert all(line.endswith("=") for line in _secrets_example()), "no value in the example: config check names them"


def _secrets_example() -> list[str]:
    text = (DEPLOY / "secrets.env.example").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _yaml(path: Path) -> list[dict[str, Any]]:
    yaml = pytest.importorskip("yaml", reason="pyyaml is not installed: the YAML of deploy/ is not checked")
    return list(yaml.safe_load_all(path.read_text(encoding="utf-8")))


def test_the_compose_file_runs_the_image_read_only_as_its_user(image: Stage) -> None:
    [compose] = _yaml(DEPLOY / "docker-compose.yml")
    service = compose["services"]["gomme"]
    assert service["image"] == f"gomme:{VERSION}" and service["build"] == ".."
    assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    assert service["user"] == image.args("USER")[0]
    assert service["env_file"] == "secrets.env"
    assert service["environment"]["GOMME_CONFIG"] == image.env()["GOMME_CONFIG"]
    mounts = {target: source for source, target, *_ in (volume.split(":") for volume in service["volumes"])}
    assert (
        mounts[image.env()["GOMME_CONFIG"]] == "./config.toml"
        and "./config.toml:/etc/gomme/config.toml:ro" in (service["volumes"])
    )
    covered = {PurePosixPath(path) for path in [*mounts, *service["tmpfs"]]}
    assert set(_writable(image)) <= covered, "every writable path is a volume or a tmpfs"
    port = parse_address(load_config_file(DEPLOY / "config.toml").daemon.address)[1]
    assert service["ports"] == [f"127.0.0.1:{port}:{port}"]


def _pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in _yaml(path):
            if document["kind"] == "Deployment":
                yield path.name, document["spec"]["template"]["spec"]
            elif document["kind"] == "CronJob":
                yield path.name, document["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_the_kubernetes_pods_run_the_image_non_root_with_a_read_only_root_filesystem(image: Stage) -> None:
    specs = list(_pod_specs())
    assert [name for name, _ in specs] == ["cronjob.yaml", "deployment.yaml"]
    volumes_by_claim = {}
    for name, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == _uid(image) and pod["fsGroup"] == _uid(image), name
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        volumes_by_claim[name] = volumes["state"]["persistentVolumeClaim"]["claimName"]
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            where = f"{name}: {container['name']}"
            assert container["image"].endswith(f"/gomme:{VERSION}"), where
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"], where
            mounts = {PurePosixPath(mount["mountPath"]): mount for mount in container["volumeMounts"]}
            assert set(_writable(image)) <= set(mounts), where
            config_dir = PurePosixPath(image.env()["GOMME_CONFIG"]).parent
            assert mounts[config_dir].get("readOnly") is True and volumes[mounts[config_dir]["name"]]["configMap"], (
                where
            )
    claims = [doc for doc in _yaml(DEPLOY / "kubernetes" / "state.yaml") if doc["kind"] == "PersistentVolumeClaim"]
    assert set(volumes_by_claim.values()) == {claim["metadata"]["name"] for claim in claims}
    [deployment] = [spec for name, spec in specs if name == "deployment.yaml"]
    [daemon] = deployment["containers"]
    assert daemon["args"] == ["daemon"] and [init["args"] for init in deployment["initContainers"]] == [
        ["db", "upgrade"]
    ]
    port = parse_address(load_config_file(DEPLOY / "config.toml").daemon.address)[1]
    assert daemon["ports"] == [{"name": "http", "containerPort": port}]
    assert daemon["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


# -- the image's install and entrypoint steps, run here ----------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package as `pip install /src` lays it out, built by setuptools from the build context alone."""
    pytest.importorskip("setuptools", reason="setuptools is not installed: the install step is not run")
    work = tmp_path_factory.mktemp("image")
    context = work / "src"
    context.mkdir()
    for name in _dockerignore_allowed():
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.db"))
        else:
            shutil.copy2(source, context / name)
    lib = work / "site-packages"
    built = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "--build-lib", str(lib)],
        cwd=context, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return lib


@dataclass
class Container:
    """The image's filesystem as this test lays it out under `root`; only the state and scratch dirs writable."""

    root: Path
    env: dict[str, str]
    state: Path
    home: Path
    config_dir: Path

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, *args]
        if os.geteuid() == 0:  # root writes anywhere: drop every capability, as a container's user has none
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: cannot make HOME unwritable")
            command = [setpriv, "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", *command]
        return subprocess.run(
            command, cwd=self.state, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=300,
            check=False,
        )  # fmt: skip


def _read_only(path: Path) -> None:
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)
    path.chmod(0o555)


@pytest.fixture
def container(installed: Path, image: Stage, tmp_path: Path) -> Iterator[Container]:
    def inside(path: str) -> Path:
        return tmp_path / path.lstrip("/")

    [compose] = _yaml(DEPLOY / "docker-compose.yml") if _has_yaml() else [{"services": {"gomme": {}}}]
    environment = {**image.env(), **compose["services"]["gomme"].get("environment", {})}
    paths = ("HOME", "XDG_STATE_HOME", "TMPDIR", "GOMME_CONFIG")
    env = {key: str(inside(value)) if key in paths else value for key, value in environment.items()}
    secrets = {line.split("=", 1)[0]: "synthetic-secret-for-the-image-test" for line in _secrets_example()}
    env.update(secrets, PATH=os.environ["PATH"], PYTHONPATH=str(installed), LANG="C.UTF-8")
    state = inside(environment["XDG_STATE_HOME"]) / "gomme"
    home, scratch = inside(environment["HOME"]), inside(environment["TMPDIR"])
    config = inside(environment["GOMME_CONFIG"])
    for folder in (state, home, scratch, config.parent):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(DEPLOY / "config.toml", config)
    for folder in (home, config.parent):
        _read_only(folder)
    yield Container(tmp_path, env, state, home, config.parent)
    for folder in (home, config.parent):
        folder.chmod(0o755)


def _has_yaml() -> bool:
    try:
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


def test_the_entrypoint_works_with_the_images_environment_writing_only_to_the_state(container: Container) -> None:
    # the sandbox is real: HOME and the configuration's folder refuse writes
    probe = container.run("-c", f"open({str(container.home / 'probe')!r}, 'w')")
    assert probe.returncode == 1 and "PermissionError" in probe.stderr
    origin = container.run("-c", "import gomme; print(gomme.__file__)")
    assert origin.stdout.strip() == str(Path(container.env["PYTHONPATH"]) / "gomme" / "__init__.py"), origin.stderr

    version = container.run("-m", "gomme", "--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"gomme {VERSION}"), version.stderr
    check = container.run("-m", "gomme", "config", "check")
    assert check.returncode == 0, check.stderr
    assert "config.toml: valid (2 connector(s)" in check.stderr and "not set" not in check.stderr
    upgrade = container.run("-m", "gomme", "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert "state database at revision" in upgrade.stderr
    assert (container.state / "gomme.db").is_file()
    assert list(container.home.iterdir()) == [] and [p.name for p in container.config_dir.iterdir()] == ["config.toml"]


def test_the_secrets_example_as_it_is_makes_config_check_name_each_empty_variable(container: Container) -> None:
    empty = {line.split("=", 1)[0]: "" for line in _secrets_example()}
    check = container.run("-m", "gomme", "config", "check", env=empty)
    assert check.returncode == 2
    assert "connectors.sf.client_secret_env: SF_CLIENT_SECRET is not set" in check.stderr
    assert "connectors.hs.access_token_env: HUBSPOT_TOKEN is not set" in check.stderr
