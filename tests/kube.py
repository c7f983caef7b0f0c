"""The cluster as integration tests read it: one lightkube sync ``Client`` (the run-wide ``kube``
fixture of ``tests/integration/conftest.py``, or :func:`connect` for a cluster of a test's own),
readers that return plain dicts as ``kubectl get -o json`` prints them, waiters with a deadline,
manifest builders, and :class:`Srv`, one Server under test with the verbs the tests speak.

Kinds are named as kubectl's singular names them ("server", "host", "node", ...). A reader of a
namespaced kind given no namespace reads all namespaces.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightkube import ALL_NS, ApiError, AsyncClient, Client, KubeConfig
from lightkube.generic_resource import create_global_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources import core_v1, events_v1, networking_v1, storage_v1
from lightkube.types import PatchType

from kubenova.api import peering
from kubenova.api.common import API_VERSION, GROUP
from kubenova.kube import networks, resources
from tests import waiting

__all__ = ["API_VERSION"]

KINDS: dict[str, Any] = {
    "flavor": resources.Flavor,
    "image": resources.Image,
    "host": resources.Host,
    "aggregate": resources.Aggregate,
    "keypair": resources.Keypair,
    "server": resources.Server,
    "serveraction": resources.ServerAction,
    "servergroup": resources.ServerGroup,
    "quota": resources.Quota,
    "migration": resources.Migration,
    "securitygroup": resources.SecurityGroup,
    "networkpolicy": networking_v1.NetworkPolicy,
    "networkattachmentdefinition": networks.NetworkAttachmentDefinition,
    "virtualmachine": resources.VirtualMachine,
    "virtualmachineinstance": resources.VirtualMachineInstance,
    "virtualmachineinstancemigration": resources.VirtualMachineInstanceMigration,
    "datavolume": resources.DataVolume,
    "node": core_v1.Node,
    "namespace": core_v1.Namespace,
    "pod": core_v1.Pod,
    "secret": core_v1.Secret,
    "serviceaccount": core_v1.ServiceAccount,
    "persistentvolumeclaim": core_v1.PersistentVolumeClaim,
    "storageclass": storage_v1.StorageClass,
    "clusterkopfpeering": create_global_resource(
        peering.PEERING_GROUP, "v1", "ClusterKopfPeering", "clusterkopfpeerings"
    ),
}
CLUSTER_SCOPED = {"flavor", "image", "storageclass", "host", "aggregate", "node", "namespace", "clusterkopfpeering"}
FIELD_MANAGER = "kubenova-tests"


def connect(kubeconfig: Path) -> Client:
    return Client(config=KubeConfig.from_file(str(kubeconfig)), field_manager=FIELD_MANAGER)


def _where(kind: str, namespace: str | None) -> dict[str, Any]:
    return {} if kind in CLUSTER_SCOPED else {"namespace": namespace or ALL_NS}


def get(kube: Client, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    """The object, or {} while it does not exist."""
    try:
        obj = kube.get(KINDS[kind], name, **_where(kind, namespace))
    except ApiError as exc:
        if exc.status.code == 404:
            return {}
        raise
    found: dict[str, Any] = obj.to_dict()
    return found


def status(kube: Client, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    """The object's status, or {} while it has none (or does not exist)."""
    found: dict[str, Any] = get(kube, kind, name, namespace).get("status") or {}
    return found


def items(kube: Client, kind: str, namespace: str | None = None, *, labels: str | None = None) -> list[dict[str, Any]]:
    """Every object of ``kind`` (in ``namespace``; with a label selector such as ``"a"`` or ``"a=b"``)."""
    selector: dict[str, Any] | None = None
    if labels:
        key, _, value = labels.partition("=")
        selector = {key: value or None}
    return [o.to_dict() for o in kube.list(KINDS[kind], labels=selector, **_where(kind, namespace))]


def workloads(kube: Client, namespace: str) -> list[dict[str, Any]]:
    """Each server's own workload (its Pod or VirtualMachine) in ``namespace``: found by the server
    label, less a VM's virt-launcher Pods, which carry their VM's labels as KubeVirt copies them."""
    label = f"{GROUP}/server"  # kubenova.backends.workload.SERVER_LABEL
    found = [w for kind in ("pod", "virtualmachine") for w in items(kube, kind, namespace, labels=label)]
    return [w for w in found if "kubevirt.io" not in w["metadata"]["labels"]]


def wait_for(
    kube: Client,
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    check: Callable[[dict[str, Any]], object],
    timeout: float = 30,
    what: str = "",
) -> dict[str, Any]:
    """Wait until ``check(status)`` holds for the object; return that status."""

    def holds() -> dict[str, Any] | None:
        s = status(kube, kind, name, namespace)
        return s if check(s) else None

    return waiting.until(holds, timeout=timeout, what=what or f"{kind} {name}")


def wait_gone(kube: Client, kind: str, name: str, namespace: str | None = None, *, timeout: float = 60) -> None:
    waiting.until(lambda: not get(kube, kind, name, namespace), timeout=timeout, what=f"{kind} {name} gone")


def events(kube: Client, namespace: str, name: str) -> list[tuple[str, str]]:
    """(reason, note) of the Events about object ``name``, oldest first."""
    found = [e.to_dict() for e in kube.list(events_v1.Event, namespace=namespace, fields={"regarding.name": name})]
    return [(e["reason"], e.get("note", "")) for e in sorted(found, key=lambda e: e["eventTime"])]


# --- manifests --------------------------------------------------------------------------------


def manifest(kind: str, name: str, namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    """A kubenova object of ``kind`` (as its ``kind:`` field spells it)."""
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def server(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return manifest("Server", name, namespace, **spec)


def flavor(name: str, **spec: Any) -> dict[str, Any]:
    return manifest("Flavor", name, **spec)


def create_all(kubeconfig: Path, namespace: str, count: int, **spec: Any) -> list[str]:
    """Create ``count`` Servers (s000, s001, ...) at once, as concurrent requests; return the
    messages of the creates the API server refused."""

    async def run() -> list[str]:
        refused: list[str] = []
        client = AsyncClient(config=KubeConfig.from_file(str(kubeconfig)), field_manager=FIELD_MANAGER)

        async def one(i: int) -> None:
            body = resources.Server(metadata=ObjectMeta(name=f"s{i:03d}", namespace=namespace), spec=spec)
            try:
                await client.create(body)
            except ApiError as exc:
                refused.append(str(exc.status.message))

        try:
            await asyncio.gather(*(one(i) for i in range(count)))
        finally:
            await client.close()
        return refused

    return asyncio.run(run())


# --- one Server under test --------------------------------------------------------------------


class Srv:
    """One Server under test, with the few verbs the tests speak."""

    def __init__(self, kube: Client, namespace: str, name: str) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name

    def get(self) -> dict[str, Any]:
        return get(self.kube, "server", self.name, self.namespace)

    @property
    def status(self) -> dict[str, Any]:
        return status(self.kube, "server", self.name, self.namespace)

    def declare(self, **spec: Any) -> None:
        """Merge ``spec`` into the Server's spec, as ``kubectl patch --type=merge`` does."""
        self.kube.patch(
            resources.Server, self.name, {"spec": spec}, namespace=self.namespace, patch_type=PatchType.MERGE
        )

    def wait(self, wanted: str, *, actions: int | None = None, timeout: float = 30) -> dict[str, Any]:
        """Wait until Nova's status is ``wanted`` with no task in flight (and ``actions`` recorded)."""

        def settled(s: dict[str, Any]) -> bool:
            done = s.get("status") == wanted and s.get("taskState") is None
            return done and (actions is None or len(s.get("actions", [])) >= actions)

        return wait_for(
            self.kube, "server", self.name, self.namespace, check=settled, timeout=timeout, what=f"{self.name} {wanted}"
        )

    def act(self, action: str, **spec: Any) -> dict[str, Any]:
        """Create a ServerAction and wait for it to end; its status."""
        name = f"{self.name}-{action.lower()}-{uuid.uuid4().hex[:5]}"
        body = {"server": self.name, "action": action, **spec}
        self.kube.create(resources.ServerAction(metadata=ObjectMeta(name=name, namespace=self.namespace), spec=body))
        return wait_for(
            self.kube,
            "serveraction",
            name,
            self.namespace,
            check=lambda s: s.get("phase") in ("Succeeded", "Failed"),
            what=f"serveraction {name}",
        )

    def last_action(self) -> dict[str, Any]:
        record: dict[str, Any] = self.status["actions"][-1]
        return record

    def events(self) -> list[tuple[str, str]]:
        return events(self.kube, self.namespace, self.name)

    def reasons(self) -> list[str]:
        return [r for r, _ in self.events()]

    def wait_reasons(self, *wanted: str, timeout: float = 30) -> list[str]:
        """The Events' reasons once all of ``wanted`` are among them: an Event is posted after the
        status write it announces, so a test that saw the status may read the Events before it."""
        return waiting.until(
            lambda: found if set(wanted) <= set(found := self.reasons()) else None,
            timeout=timeout,
            what=f"Events {', '.join(wanted)} of server {self.name}",
        )
