"""Consoles by backend (:mod:`kubenova.backends.consoles`): what status says about reaching them,
Nova's ``length`` of console output, and its 100 KiB cap."""

from __future__ import annotations

import pytest

from kubenova.api.server_status import ServerConsole
from kubenova.backends import consoles


def test_a_vm_console_is_kubevirts_serial_and_vnc_subresources() -> None:
    st = consoles.status("kubevirt", "demo", "web")
    ServerConsole.model_validate(st)
    assert st["type"] == "serial"
    by = {a["protocol"]: a for a in st["access"]}
    assert by["serial"] == {
        "protocol": "serial",
        "command": "virtctl console web -n demo",
        "path": "/apis/subresources.kubevirt.io/v1/namespaces/demo/virtualmachineinstances/web/console",
    }
    assert by["vnc"]["command"] == "virtctl vnc web -n demo"
    assert by["vnc"]["path"].endswith("/virtualmachineinstances/web/vnc")
    assert "-c guest-console-log" in by["log"]["command"]


def test_a_container_gets_kubectl_exec_and_attach_not_a_fake_console() -> None:
    st = consoles.status("container", "demo", "api")
    ServerConsole.model_validate(st)
    assert st["type"] == "exec"
    assert [a["protocol"] for a in st["access"]] == ["exec", "attach", "log"]
    assert st["access"][0]["command"] == "kubectl exec -it -n demo api -- sh"
    assert st["access"][2]["path"] == "/api/v1/namespaces/demo/pods/api/log?tailLines=100"


@pytest.mark.parametrize(("length", "tail"), [(None, None), (-1, None), ("-1", None), (5, 5), ("20", 20), (0, 0)])
def test_nova_length_is_the_last_lines(length: object, tail: int | None) -> None:
    assert consoles.tail_lines(length) == tail


@pytest.mark.parametrize("length", [-2, "ten", 1.5, True, [3]])
def test_a_bad_length_is_refused(length: object) -> None:
    with pytest.raises(consoles.BadLength):
        consoles.tail_lines(length)


def test_output_is_capped_to_the_last_100_kib() -> None:
    big = "x" * 50 + "y" * consoles.MAX_OUTPUT_BYTES
    assert consoles.capped(big) == "y" * consoles.MAX_OUTPUT_BYTES
    assert consoles.capped("short\n") == "short\n"
