"""How to reach a server's console, by backend: what the Server's status says (``status.console``)
and what the Compute API's console calls read. Pure; :func:`kubenova.servers.placing.placed_on`
writes :func:`status` when a server is placed, and :mod:`kubenova.compute_api.consoles` reads
the rest.

* kubevirt: the serial console and VNC are KubeVirt's ``console`` and ``vnc`` subresources of
  the VirtualMachineInstance (websockets, served by virt-api; ``virtctl console``/``virtctl vnc``
  speak them). The console log (Nova's console output) is the serial console as KubeVirt keeps
  it: the ``guest-console-log`` container of the VM's virt-launcher Pod.
* container: there is no console to fake; a shell is ``kubectl exec``, the main process's
  terminal ``kubectl attach``, and the console output is the Pod's log.
"""

from __future__ import annotations

from typing import Any

SUBRESOURCES = "/apis/subresources.kubevirt.io/v1"
GUEST_CONSOLE_LOG = "guest-console-log"
"""The container of a virt-launcher Pod that streams the guest's serial console (KubeVirt keeps
it unless its ``disableSerialConsoleLog`` is set)."""
LAUNCHER_LABELS = {"kubevirt.io": "virt-launcher"}
VM_LABEL = "vm.kubevirt.io/name"
MAX_OUTPUT_BYTES = 100 * 1024
"""Nova's libvirt driver gives at most the last 100 KiB of the console log."""


def subresource_path(namespace: str, name: str, which: str) -> str:
    return f"{SUBRESOURCES}/namespaces/{namespace}/virtualmachineinstances/{name}/{which}"


def status(backend: str, namespace: str, name: str) -> dict[str, Any]:
    """``status.console``: the console's type and each way to reach it."""
    if backend == "kubevirt":
        return {
            "type": "serial",
            "access": [
                {"protocol": "serial", "command": f"virtctl console {name} -n {namespace}",
                 "path": subresource_path(namespace, name, "console")},
                {"protocol": "vnc", "command": f"virtctl vnc {name} -n {namespace}",
                 "path": subresource_path(namespace, name, "vnc")},
                {"protocol": "log", "command": f"kubectl logs -n {namespace} -l {VM_LABEL}={name} "
                 f"-c {GUEST_CONSOLE_LOG} --tail=100"},
            ],
        }  # fmt: skip
    return {
        "type": "exec",
        "access": [
            {"protocol": "exec", "command": f"kubectl exec -it -n {namespace} {name} -- sh"},
            {"protocol": "attach", "command": f"kubectl attach -it -n {namespace} {name}"},
            {"protocol": "log", "command": f"kubectl logs -n {namespace} {name} --tail=100",
             "path": f"/api/v1/namespaces/{namespace}/pods/{name}/log?tailLines=100"},
        ],
    }  # fmt: skip


class BadLength(ValueError):
    """Nova's ``length`` is not a number of lines (or -1)."""


def tail_lines(length: Any) -> int | None:
    """Nova's ``length`` of os-getConsoleOutput: the last ``length`` lines; left out (or -1),
    the whole log. Nova takes an integer or a string of one, at least -1."""
    if length is None:
        return None
    if isinstance(length, bool) or not isinstance(length, (int, str)):
        raise BadLength(length)
    try:
        lines = int(length)
    except ValueError:
        raise BadLength(length) from None
    if lines < -1:
        raise BadLength(length)
    return None if lines == -1 else lines


def capped(output: str) -> str:
    """The last :data:`MAX_OUTPUT_BYTES` of the output, as Nova's libvirt driver gives them."""
    data = output.encode()
    if len(data) <= MAX_OUTPUT_BYTES:
        return output
    return data[-MAX_OUTPUT_BYTES:].decode(errors="ignore")
