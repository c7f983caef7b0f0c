"""A simulated KubeVirt virt-controller and virt-handler, for the dev cluster: the part kubenova
relies on that kwok Stages cannot do (a Stage changes one object; this makes others).

While a VirtualMachine asks to run, a VirtualMachineInstance of its name exists with phase
Running on the VM's pinned node, its interfaces (addresses from the VM's uid: see
:mod:`hack.devcluster.instances`) and a virt-launcher Pod on that node (kwok runs it), protected by
a PodDisruptionBudget when the instance's eviction strategy is LiveMigrate or External, as
virt-controller keeps one. On a cordoned node (a drain), an External instance is marked with
``status.evacuationNodeName``, as virt-api's eviction webhook marks it when the drain evicts its
launcher Pod; the budget keeps refusing the eviction until a migration has moved the instance
and its Pod (kubenova starts it), and then the drain completes.

The instance goes (its Pod and budget with it, by owner reference) when the VM halts or is
deleted, and is made again when the VM was restarted with a new boot. A change of the VM's node
selector reaches the running instance (KubeVirt's LiveUpdate).

A VirtualMachineInstanceMigration moves through Pending, Scheduling, Running and Succeeded; the
instance's ``migrationState`` follows and, on success, its ``nodeName`` and launcher Pod move to
the target (a target Node labelled ``kubenova.dev/hold-live-migration=true`` holds it in Running
until the label goes). It fails when no node fits (the instance's selector with the migration's
``addedNodeSelector``), when the target Node carries ``kubenova.dev/fail-live-migration=true``,
or when the migration is deleted before it ends (KubeVirt's abort: a finalizer holds it until the
instance says the abort succeeded).

Started by :mod:`hack.devcluster.cluster` as ``python -m hack.devcluster.virtcontroller``. It
watches VMs, VMIs, VMIMs and Nodes with the cluster's admin credentials and works one VM at a
time, each on its own events (a Node's change only when it is cordoned or relabelled, not on its
heartbeats), so many VMs cost it no periodic reads; only the migrations in flight are listed
again every few seconds.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import queue
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightkube
from lightkube import ApiError, KubeConfig, codecs
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Node, Pod
from lightkube.types import PatchType

from hack.devcluster import instances

if TYPE_CHECKING:
    from hack.devcluster.cluster import Cluster

VM = create_namespaced_resource("kubevirt.io", "v1", "VirtualMachine", "virtualmachines")
VMI = create_namespaced_resource("kubevirt.io", "v1", "VirtualMachineInstance", "virtualmachineinstances")
VMIM = create_namespaced_resource(
    "kubevirt.io", "v1", "VirtualMachineInstanceMigration", "virtualmachineinstancemigrations"
)
STEP_DELAY = 0.1
"""Seconds between a migration's phases, so the operator can observe each."""
RESYNC = 5.0
RETRY = 1.0
log = logging.getLogger("virt-controller")


def _d(obj: Any) -> dict[str, Any]:
    """A lightkube object as plain data (its to_dict is untyped)."""
    body: dict[str, Any] = obj.to_dict()
    return body


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Controller:
    def __init__(self, kubeconfig: Path) -> None:
        self.client = lightkube.Client(KubeConfig.from_file(kubeconfig), field_manager="virt-controller")
        self.work: queue.Queue[tuple[str, str]] = queue.Queue()
        self.nodes: dict[str, instances.Node] = {}
        """The Nodes as the watch last showed them (a drain cordons one)."""

    # --- reading ------------------------------------------------------------------------------

    def _get(self, res: Any, name: str, namespace: str) -> dict[str, Any] | None:
        try:
            return _d(self.client.get(res, name, namespace=namespace))
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise

    def _nodes(self) -> list[instances.Node]:
        return list(self.nodes.values())

    def _node_event(self, kind: str, node: dict[str, Any]) -> None:
        meta = node["metadata"]
        if kind == "DELETED":
            self.nodes.pop(meta["name"], None)
            return
        schedulable = not (node.get("spec") or {}).get("unschedulable")
        now = instances.Node(meta["name"], dict(meta.get("labels") or {}), schedulable)
        before = self.nodes.get(meta["name"])
        self.nodes[meta["name"]] = now
        if before is not None and before != now:  # cordoned, or relabelled (not a heartbeat)
            self._touch_node(now.name)

    def _touch_node(self, node: str) -> None:
        """Work for what a Node's change may move on: its instances (a cordon marks them) and
        the migrations in flight (a held one goes on once its target's label goes)."""
        try:
            for vmi in self.client.list(VMI, namespace=lightkube.ALL_NS):
                body = _d(vmi)
                if (body.get("status") or {}).get("nodeName") == node:
                    self.work.put((body["metadata"]["namespace"], body["metadata"]["name"]))
            self._unfinished()
        except Exception:
            log.exception("node %s: its instances were not looked at", node)

    def _unfinished(self) -> None:
        for vmim in self.client.list(VMIM, namespace=lightkube.ALL_NS):
            body = _d(vmim)
            if (body.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                self.work.put((body["metadata"]["namespace"], (body.get("spec") or {}).get("vmiName", "")))

    # --- one VM -------------------------------------------------------------------------------

    def reconcile(self, namespace: str, name: str) -> None:
        vm = self._get(VM, name, namespace)
        vmi = self._get(VMI, name, namespace)
        migrating = any(
            m.get("status", {}).get("phase") not in ("Succeeded", "Failed") for m in self._migrations(namespace, name)
        )
        if vmi is not None and vmi["metadata"].get("deletionTimestamp"):
            self._release_deleted_migrations(namespace, name)
            return  # its DELETED event calls again
        if vm is None or not instances.should_run(vm):
            self._release_deleted_migrations(namespace, name)
            if vmi is not None:
                self._delete(VMI, name, namespace)
            return
        if vmi is not None and instances.stale(vm, vmi) and not migrating:
            self._delete(VMI, name, namespace)
            return
        if vmi is None or not (vmi.get("status") or {}).get("phase"):
            self._start(vm, vmi)
            return
        if (patch := instances.live_update(vm, vmi)) is not None:
            self.client.patch(VMI, name, patch, namespace=namespace, patch_type=PatchType.MERGE)
        if (marked := instances.evacuation(vmi, self._nodes())) is not None:
            self.client.patch(VMI.Status, name, {"status": marked}, namespace=namespace, patch_type=PatchType.MERGE)
        self._migrate(namespace, name)

    def _start(self, vm: dict[str, Any], vmi: dict[str, Any] | None) -> None:
        """Make the instance (if absent), then run it: its status, launcher Pod and budget."""
        node = instances.pinned_host(vm)
        if node is None:
            return
        meta = vm["metadata"]
        if vmi is None:
            try:
                vmi = _d(self.client.create(codecs.from_dict(instances.instance(vm))))
            except ApiError as exc:
                if exc.status.code == 409:
                    return  # its event calls again
                raise
        status = instances.instance_status(vm, node, now=_now())
        made = _d(
            self.client.patch(
                VMI.Status, meta["name"], {"status": status}, namespace=meta["namespace"], patch_type=PatchType.MERGE
            )
        )
        self._launch(made, node)
        if instances.protected(made):
            self._create(instances.disruption_budget(made))

    def _launch(self, vmi: dict[str, Any], node: str) -> None:
        self._create(instances.launcher_pod(vmi, node, uuid.uuid4().hex[:5]))

    def _create(self, body: dict[str, Any]) -> None:
        try:
            self.client.create(codecs.from_dict(body))
        except ApiError as exc:
            if exc.status.code != 409:
                raise

    def _delete(self, res: Any, name: str, namespace: str) -> None:
        try:
            self.client.delete(res, name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code != 404:
                raise

    # --- migrations ---------------------------------------------------------------------------

    def _migrations(self, namespace: str, vmi_name: str) -> list[dict[str, Any]]:
        found = [_d(m) for m in self.client.list(VMIM, namespace=namespace)]
        return [m for m in found if (m.get("spec") or {}).get("vmiName") == vmi_name]

    def _release_deleted_migrations(self, namespace: str, name: str) -> None:
        """Drop the finalizer of the deleted migrations of an instance that is gone or going, as
        KubeVirt's migration controller does whatever became of the VM (else a namespace with a
        migration deleted after its VM stays Terminating for good)."""
        for migration in self._migrations(namespace, name):
            finalizers = list(migration["metadata"].get("finalizers") or [])
            if migration["metadata"].get("deletionTimestamp") and instances.MIGRATION_FINALIZER in finalizers:
                finalizers.remove(instances.MIGRATION_FINALIZER)
                self.client.patch(
                    VMIM, migration["metadata"]["name"], {"metadata": {"finalizers": finalizers}},
                    namespace=namespace, patch_type=PatchType.MERGE,
                )  # fmt: skip

    def _migrate(self, namespace: str, name: str) -> None:
        for migration in self._migrations(namespace, name):
            mname = migration["metadata"]["name"]
            finalizers = list(migration["metadata"].get("finalizers") or [])
            vmi = self._get(VMI, name, namespace)
            step = instances.next_migration_step(migration, vmi, self._nodes(), now=_now())
            if step is None:
                if migration["metadata"].get("deletionTimestamp") and instances.MIGRATION_FINALIZER in finalizers:
                    finalizers.remove(instances.MIGRATION_FINALIZER)
                    self.client.patch(
                        VMIM, mname, {"metadata": {"finalizers": finalizers}}, namespace=namespace,
                        patch_type=PatchType.MERGE,
                    )  # fmt: skip
                continue
            time.sleep(STEP_DELAY)
            if not migration["metadata"].get("deletionTimestamp") and instances.MIGRATION_FINALIZER not in finalizers:
                self.client.patch(
                    VMIM, mname, {"metadata": {"finalizers": [*finalizers, instances.MIGRATION_FINALIZER]}},
                    namespace=namespace, patch_type=PatchType.MERGE,
                )  # fmt: skip
            if step.vmi_status is not None and vmi is not None:
                self.client.patch(
                    VMI.Status, name, {"status": step.vmi_status}, namespace=namespace, patch_type=PatchType.MERGE
                )
            if step.moved_to is not None and vmi is not None:
                pods = self.client.list(Pod, namespace=namespace, labels={instances.CREATED_BY: vmi["metadata"]["uid"]})
                old = [_d(p)["metadata"]["name"] for p in pods]
                self._launch(vmi, step.moved_to)
                for pod in old:
                    self._delete(Pod, pod, namespace)
            self.client.patch(
                VMIM.Status, mname, {"status": step.migration_status}, namespace=namespace, patch_type=PatchType.MERGE
            )

    # --- the loop -----------------------------------------------------------------------------

    def watch(self, res: Any, key: Any) -> None:
        while True:
            try:
                for _, obj in self.client.watch(res, namespace=lightkube.ALL_NS):
                    self.work.put(key(_d(obj)))
            except Exception:  # the watch ended or broke: start it again
                log.exception("watch of %s ended", res.__name__)
                time.sleep(1)

    def watch_nodes(self) -> None:
        while True:
            try:
                for kind, obj in self.client.watch(Node):
                    self._node_event(kind, _d(obj))
            except Exception:
                log.exception("watch of Nodes ended")
                time.sleep(1)

    def resync(self) -> None:
        """Now and then, the migrations in flight again (one list: cheap with many VMs)."""
        while True:
            time.sleep(RESYNC)
            try:
                self._unfinished()
            except Exception:
                log.exception("resync failed")

    def run(self) -> None:
        name_key = lambda b: (b["metadata"]["namespace"], b["metadata"]["name"])  # noqa: E731
        vmim_key = lambda b: (b["metadata"]["namespace"], (b.get("spec") or {}).get("vmiName", ""))  # noqa: E731
        for node in self.client.list(Node):
            self._node_event("ADDED", _d(node))
        threading.Thread(target=self.watch_nodes, daemon=True).start()
        for res, key in ((VM, name_key), (VMI, name_key), (VMIM, vmim_key)):
            threading.Thread(target=self.watch, args=(res, key), daemon=True).start()
        threading.Thread(target=self.resync, daemon=True).start()
        while True:
            namespace, name = self.work.get()
            try:
                self.reconcile(namespace, name)
            except Exception:  # a conflict, a namespace going away: tried again in a moment
                log.exception("reconcile of %s/%s failed", namespace, name)
                threading.Timer(RETRY, self.work.put, args=((namespace, name),)).start()


def start(cluster: Cluster) -> None:
    """Start the simulated virt-controller as a child of ``cluster``."""
    cluster.spawn(
        "virt-controller",
        [sys.executable, "-m", "hack.devcluster.virtcontroller", f"--kubeconfig={cluster.kubeconfig}"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.devcluster.virtcontroller", description=__doc__)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    Controller(args.kubeconfig).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
