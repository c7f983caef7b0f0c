"""KubeVirt's subresource API: pause, unpause and soft-reboot a VirtualMachineInstance; hot-plug
a volume into a VirtualMachine (``addvolume``, ``removevolume``).

These are not resources but actions, served by KubeVirt's virt-api as the aggregated API group
``subresources.kubevirt.io``: ``virtctl pause vmi NAME`` is a ``PUT`` with a ``{}`` body (a
``PauseOptions``) to ``/apis/subresources.kubevirt.io/v1/namespaces/NS/virtualmachineinstances/NAME/pause``.
kube-apiserver authorizes it as ``update`` on ``virtualmachineinstances/pause`` in that group, then
proxies it to virt-api, which answers 200 with no body, or a ``Status``: 404 when the instance
does not exist, 409 when it is not running, already paused (``pause``) or not paused (``unpause``).

``addvolume`` and ``removevolume`` on a VirtualMachine take an ``AddVolumeOptions`` (``name``,
``disk``, ``volumeSource``) or ``RemoveVolumeOptions`` (``name``) body; virt-api writes the volume
into (or out of) the VM's ``spec.template.spec`` and answers 202, and virt-controller hot-plugs it
into the running instance (KubeVirt's ``HotplugVolumes`` feature gate; otherwise a 400).

The call is made idempotent here: a 409 that says the instance already is what was asked for is
success, since the operator may repeat a step before the VirtualMachine's status shows the first
one took effect.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from lightkube import AsyncClient

GROUP = "subresources.kubevirt.io"
VERSION = "v1"
Action = Literal["pause", "unpause", "softreboot"]

# virt-api's words for "it is so already" (pkg/virt-api/rest: "VMI is already paused" and
# vmiNotPaused = "VMI is not paused"; the latter is only said of a running instance).
_ALREADY_DONE: dict[str, str] = {"pause": "already paused", "unpause": "not paused"}


class SubresourceFailed(RuntimeError):
    """KubeVirt refused the action, or the API server could not pass it on."""

    def __init__(self, action: str, namespace: str, name: str, code: int, message: str) -> None:
        super().__init__(f"{action} {namespace}/{name}: {message} (HTTP {code})")
        self.code = code
        self.message = message


class SubresourceUnavailable(SubresourceFailed):
    """KubeVirt's subresource API is not served in this cluster (no virt-api registered)."""


async def vmi_subresource(client: AsyncClient, namespace: str, name: str, action: Action) -> None:
    """Ask virt-api to ``action`` the instance ``namespace/name``; return once it accepted.

    Raises :class:`SubresourceUnavailable` if the API group is not served and
    :class:`SubresourceFailed` for any other refusal."""
    path = f"apis/{GROUP}/{VERSION}/namespaces/{namespace}/virtualmachineinstances/{name}/{action}"
    await _put(client, path, action, namespace, name, body=b"{}", already=_ALREADY_DONE.get(action))


VolumeAction = Literal["addvolume", "removevolume"]
# virt-api's words (pkg/virt-api/rest/volumes.go verifyVolumeOption) for a volume that is there
# already, or gone already.
_VOLUME_DONE: dict[str, str] = {"addvolume": "already exists", "removevolume": "does not exist"}


async def vm_volume(client: AsyncClient, namespace: str, name: str, action: VolumeAction, body: dict[str, Any]) -> None:
    """``addvolume`` or ``removevolume`` on the VirtualMachine ``namespace/name`` (persistent:
    kept in the VM's spec, so it survives a restart). Raises as :func:`vmi_subresource`."""
    path = f"apis/{GROUP}/{VERSION}/namespaces/{namespace}/virtualmachines/{name}/{action}"
    await _put(client, path, action, namespace, name, body=json.dumps(body).encode(), already=_VOLUME_DONE[action])


async def _put(
    client: AsyncClient, path: str, action: str, namespace: str, name: str, *, body: bytes, already: str | None
) -> None:
    """PUT a subresource; a 409 that says it is so ``already`` is success."""
    # lightkube has no public call for a path that is not a resource; its httpx client carries the
    # kubeconfig's server, TLS and credentials (lightkube is pinned, so this private attribute is
    # stable). The path is relative, like lightkube's own, so a server URL with a path prefix works.
    http = client._client._client
    resp = await http.put(path, content=body, headers={"Content-Type": "application/json"})
    if resp.is_success:
        return
    status = _status(resp.content)
    message = str(status.get("message") or resp.text.strip() or resp.reason_phrase)
    if resp.status_code == 409 and already is not None and already in message:
        return
    if resp.status_code == 404 and not (status.get("details") or {}).get("name"):
        # The API server's own 404 (no such group) names nothing; virt-api's names the instance.
        raise SubresourceUnavailable(
            action,
            namespace,
            name,
            404,
            f"the API group {GROUP}/{VERSION} is not served (is KubeVirt's virt-api installed and its "
            f"APIService v1.{GROUP} Available?)",
        )
    raise SubresourceFailed(action, namespace, name, resp.status_code, message)


def _status(body: bytes) -> dict[str, Any]:
    """The ``Status`` object in an error response, or ``{}`` if the body is not one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
