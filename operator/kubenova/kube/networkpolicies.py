"""Writing a SecurityGroup's NetworkPolicy and its members' labels. Called by the SecurityGroup
handlers (:mod:`kubenova.handlers.securitygroups`) with what :mod:`kubenova.securitygroups`
rendered.

The policy is written by server-side apply with kubenova's field manager, forced: the operator
owns it (the group owns it in the garbage collector's sense), so the rendered spec wins over any
hand edit, and a re-apply of an unchanged policy is a no-op for the API server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightkube import ApiError, AsyncClient, codecs
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from kubenova import securitygroups
from kubenova.backends import container, kubevirt
from kubenova.kube import client as kube
from kubenova.kube import resources

FIELD_MANAGER = "kubenova"
VM_LABEL = "vm.kubevirt.io/name"
"""The label KubeVirt puts on a VirtualMachine's instance and its virt-launcher Pods."""


class PolicyRefused(Exception):
    """The API server refused the policy (RBAC, a quota, a validation the renderer missed)."""


async def apply_policy(client: AsyncClient, policy: dict[str, Any]) -> None:
    try:
        await client.apply(codecs.from_dict(policy), field_manager=FIELD_MANAGER, force=True)
    except ApiError as exc:
        if exc.status.code and exc.status.code >= 500:
            raise
        raise PolicyRefused(str(exc.status.message)) from exc


async def ensure_default_group(client: AsyncClient, namespace: str) -> None:
    """The namespace's ``default`` SecurityGroup, made if absent (never changed if present)."""
    await kube.create_or_adopt(client, codecs.from_dict(securitygroups.default_group(namespace)))


async def relabel_members(client: AsyncClient, backend: str, namespace: str, name: str, groups: list[str]) -> None:
    """Give a server's Pods the member labels of ``groups`` (and only those).

    A Pod's labels change in place (no restart). For a VM, the template's labels are patched, so
    the next boot's Pod has them, and so are the running instance's virt-launcher Pods: KubeVirt
    copies the template's labels into the instance and its Pod when it starts one and does not
    carry a later change over, and a NetworkPolicy selects Pods."""
    if backend == container.NAME:
        pod = await kube.get_dict(client, Pod, name, namespace=namespace)
        if pod is not None:
            await relabel_pod(client, pod, groups)
        return
    if backend != kubevirt.NAME:
        return
    vm = await kube.get_dict(client, resources.VirtualMachine, name, namespace=namespace)
    if vm is None:
        return
    template = (vm.get("spec") or {}).get("template") or {}
    changes = securitygroups.label_changes((template.get("metadata") or {}).get("labels") or {}, groups)
    if changes:
        patch = {"spec": {"template": {"metadata": {"labels": changes}}}}
        await client.patch(resources.VirtualMachine, name, patch, namespace=namespace, patch_type=PatchType.MERGE)
    async for launcher in client.list(Pod, namespace=namespace, labels={VM_LABEL: name}):
        await relabel_pod(client, launcher.to_dict(), groups)


async def relabel_pod(client: AsyncClient, pod: Mapping[str, Any], groups: list[str]) -> None:
    """Give ``pod`` (a body as read or watched) the member labels of ``groups`` (and only those)."""
    meta = pod.get("metadata") or {}
    changes = securitygroups.label_changes(meta.get("labels") or {}, groups)
    if changes:
        patch = {"metadata": {"labels": changes}}
        await client.patch(Pod, meta["name"], patch, namespace=meta.get("namespace"), patch_type=PatchType.MERGE)
