"""Reading the Multus NetworkAttachmentDefinitions a server's secondary networks name, for
:func:`kubenova.backends.networks.resolve`. Called by :mod:`kubenova.kube.workloads` just before
it renders a workload with secondary networks (a server with only the pod network reads none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.generic_resource import create_namespaced_resource

from kubenova.backends import networks
from kubenova.kube import client as kube

NetworkAttachmentDefinition = create_namespaced_resource(
    "k8s.cni.cncf.io", "v1", networks.NAD_KIND, "network-attachment-definitions"
)


async def attachment_definitions(client: AsyncClient, wanted: networks.Networks) -> dict[str, Mapping[str, Any] | None]:
    """The NetworkAttachmentDefinitions ``wanted`` names, by ``namespace/name`` (None: absent, or
    no such kind: Multus is not installed)."""
    out: dict[str, Mapping[str, Any] | None] = {}
    for a in wanted.attachments:
        try:
            out[a.ref] = await kube.get_dict(client, NetworkAttachmentDefinition, a.name, namespace=a.namespace)
        except ApiError as exc:
            if exc.status.code != 403:
                raise
            out[a.ref] = None  # another namespace's, which the operator may not read: not found to it
    return out


async def resolved(client: AsyncClient, wanted: networks.Networks, *, backend: str) -> networks.Networks:
    """``wanted`` checked against its NetworkAttachmentDefinitions (raises NetworkFault)."""
    if wanted.resolved:
        return wanted
    return networks.resolve(wanted, await attachment_definitions(client, wanted), backend=backend)
