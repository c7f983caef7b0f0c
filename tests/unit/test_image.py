"""The operator image, without a Docker engine: the Dockerfile follows the rules hadolint would
check, its entry point is the chart's command and works, and its dependency lock matches
pyproject.toml and the environment the tests run in."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"
DEPLOYMENT = ROOT / "charts" / "kubenova" / "templates" / "deployment.yaml"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each Dockerfile line, continuations joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def exec_form(instruction: str) -> list[str]:
    args = [rest for word, rest in instructions() if word == instruction]
    assert len(args) == 1, f"one {instruction}"
    value = json.loads(args[0])  # shell form would not parse as JSON
    assert isinstance(value, list), f"{instruction} in exec form"
    assert all(isinstance(v, str) for v in value), f"{instruction} in exec form"
    return value


def lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"{line!r} is not pinned with =="
            assert version, f"{line!r} has no version"
            pins[canonicalize_name(name)] = version
    return pins


def test_every_base_image_is_pinned() -> None:
    bases = [rest.split()[0] for word, rest in instructions() if word == "FROM"]
    assert bases
    for image in bases:
        if "@sha256:" in image:
            continue
        name, _, tag = image.rpartition(":")
        assert name, f"{image}: pin an exact tag or a digest"
        assert tag != "latest", f"{image}: pin an exact tag or a digest"
        assert re.match(r"^\d+\.\d+\.\d+", tag), f"{image}: the tag is not an exact release"


def test_runs_as_a_numeric_non_root_user() -> None:
    users = [rest for word, rest in instructions() if word == "USER"]
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit(), "USER must be a numeric uid (runAsNonRoot checks it)"
    assert int(uid) != 0, "USER must not be root"
    assert not gid or (gid.isdigit() and int(gid) != 0)
    chart_uid = re.search(r"runAsUser: (\d+)", (ROOT / "charts" / "kubenova" / "values.yaml").read_text())
    assert chart_uid is not None
    assert chart_uid.group(1) == uid, "the chart's runAsUser is the image's user"


def test_entrypoint_and_cmd_are_exec_form_and_the_charts_command() -> None:
    text = DEPLOYMENT.read_text()
    command = re.search(r"^\s+command: (\[.*\])$", text, re.M)
    args = re.search(r"^\s+args: (\[.*\])$", text, re.M)
    assert command
    assert args
    assert exec_form("ENTRYPOINT") == json.loads(command.group(1))
    assert exec_form("CMD") == json.loads(args.group(1))


def test_installs_only_the_lock() -> None:
    runs = " ".join(rest for word, rest in instructions() if word == "RUN")
    assert "-r requirements.lock" in runs
    assert "--no-deps" in runs
    assert not [rest for word, rest in instructions() if word == "ADD"], "COPY, not ADD"
    assert "latest" not in DOCKERFILE.read_text().replace("# ", "")


def test_the_lock_pins_pyprojects_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = lock()
    for dep in project["dependencies"]:
        req = Requirement(dep)
        assert canonicalize_name(req.name) in pins, f"{req.name} is missing from requirements.lock"
        assert req.specifier.contains(pins[canonicalize_name(req.name)]), f"{dep} vs the lock"


def test_the_lock_is_complete_and_what_the_tests_run_with() -> None:
    pins = lock()
    for name, version in pins.items():
        assert metadata.version(name) == version, f"{name}: tests run {metadata.version(name)}, the image {version}"
        for raw in metadata.requires(name) or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                assert canonicalize_name(req.name) in pins, f"{name} needs {req.name}, not in requirements.lock"


@pytest.mark.parametrize(
    "argv",
    [
        [str(Path(sys.executable).with_name("kubenova")), "--help"],
        [sys.executable, "-m", "kubenova", "--help"],
        [sys.executable, "-m", "kubenova", "operator", "--help"],
    ],
)
def test_the_entry_point_runs(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "usage: kubenova" in proc.stdout


def test_operator_help_lists_the_metrics_flag() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kubenova", "operator", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "--metrics-address" in proc.stdout
