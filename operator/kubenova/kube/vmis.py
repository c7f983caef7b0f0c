"""KubeVirt's VirtualMachineInstances and VirtualMachineInstanceMigrations, as the live
migration of a kubevirt server uses them: read the instance, move the VM's node selector, create
(or adopt) and delete a migration. Called by the Server executor
(:mod:`kubenova.handlers.server_executor`) and the ServerAction handler.
"""

from __future__ import annotations

from typing import Any

from lightkube import AsyncClient, codecs
from lightkube.types import PatchType

from kubenova.kube import client as kube
from kubenova.kube import resources


async def instance(client: AsyncClient, namespace: str, name: str) -> dict[str, Any] | None:
    return await kube.get_dict(client, resources.VirtualMachineInstance, name, namespace=namespace)


async def migration(client: AsyncClient, namespace: str, name: str) -> dict[str, Any] | None:
    return await kube.get_dict(client, resources.VirtualMachineInstanceMigration, name, namespace=namespace)


async def create_migration(client: AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """Create the migration (a retry adopts the one made before)."""
    made: dict[str, Any] = (await kube.create_or_adopt(client, codecs.from_dict(body))).to_dict()
    return made


async def delete_migration(client: AsyncClient, namespace: str, name: str) -> None:
    """Delete it: KubeVirt aborts a migration that has not ended."""
    await kube.delete_if_exists(client, resources.VirtualMachineInstanceMigration, name, namespace=namespace)


async def pin(client: AsyncClient, namespace: str, name: str, selector: dict[str, str]) -> None:
    """Set the VM template's node selector (KubeVirt's LiveUpdate carries it to the running
    instance without a restart)."""
    ops = [{"op": "replace", "path": "/spec/template/spec/nodeSelector", "value": selector}]
    await client.patch(resources.VirtualMachine, name, ops, namespace=namespace, patch_type=PatchType.JSON)
