"""The dev cluster's one process class (hack/devcluster/processes.py): a child logs to its file,
a wait fails at once with the log's tail when the child exits, stop and kill end it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hack.devcluster import processes


def python(tmp_path: Path, code: str, name: str = "child") -> processes.Process:
    return processes.Process(name, [sys.executable, "-c", code], tmp_path / f"{name}.log")


def test_a_wait_fails_at_once_with_the_log_when_the_child_exits(tmp_path: Path) -> None:
    proc = python(tmp_path, "print('boom', flush=True); raise SystemExit(3)").start()
    with pytest.raises(processes.ProcessError, match=r"(?s)child exited with 3.*boom"):
        proc.wait_until(lambda: False, timeout=30)


def test_a_wait_that_times_out_says_what_it_waited_for(tmp_path: Path) -> None:
    proc = python(tmp_path, "import time; time.sleep(30)").start()
    try:
        with pytest.raises(processes.ProcessError, match="the thing was not ready within 0s"):
            proc.wait_until(lambda: False, what="the thing", timeout=0.3)
    finally:
        proc.stop()
    assert not proc.running


def test_stop_ends_a_child_that_ignores_sigterm_by_killing_it(tmp_path: Path) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    proc = python(tmp_path, code).start()
    processes.poll_until(lambda: "up" in proc.tail(), what="the child", timeout=30)
    proc.stop(timeout=0.5)
    assert proc.popen is not None
    assert proc.popen.returncode == -9


def test_a_restart_can_keep_the_log(tmp_path: Path) -> None:
    proc = python(tmp_path, "print('run', flush=True)")
    for _ in range(2):
        proc.start(append=True)
        assert proc.popen is not None
        proc.popen.wait(timeout=30)
    assert proc.tail().splitlines() == ["run", "run"]


def test_python_env_keeps_the_base_and_adds_this_checkout(tmp_path: Path) -> None:
    env = processes.python_env({"KUBECONFIG": "/x", "PYTHONPATH": "/elsewhere"})
    assert env["KUBECONFIG"] == "/x"
    paths = env["PYTHONPATH"].split(":")
    assert paths[-1] == "/elsewhere"
    assert (Path(paths[0]) / "hack" / "devcluster" / "processes.py").exists()
