"""Chaos: a seeded random sequence of users' actions on servers of both backends, interleaved
with faults (the operator SIGKILLed, kube-apiserver SIGKILLed, etcd restarted, a compute Node
NotReady and back, the webhook down), then the invariants once the faults stop: each server is
where its spec and finished actions put it (or ERROR with a fault), one workload each (none when
offloaded), claims and Host usage agree, no task state stuck, every ServerAction ended; the
volumes attached as the spec lists them, every snapshot Image active or killed, every Migration
record ended. The actions include attach/detach, createImage and live migration (with an abort
or force_complete of one held in flight).

The plan and the checks are pure (tests/chaos.py, unit tested). The size comes from the
environment: ``KUBENOVA_CHAOS_SEED`` replays a run, ``KUBENOVA_CHAOS_SERVERS`` and
``KUBENOVA_CHAOS_STEPS`` make it bigger (README, "Faults"). The figures are printed as one JSON
line; a failure names the seed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from lightkube import Client

from hack.devcluster import faults, instances
from hack.devcluster.cluster import Cluster, ClusterError
from hack.devcluster.operating import Operator
from kubenova.backends.workload import SERVER_LABEL
from tests import chaos, waiting
from tests import kube as k
from tests.integration.chaos_cluster import FLAVORS, IMAGES, ZONE, cleared, prepare, retried, vm_images
from tests.integration.conftest import Made

# A fixed seed by default, so that CI replays one known plan (as the fuzz tests do);
# KUBENOVA_CHAOS_SEED=random draws one, any number replays that one.
_SEED = os.environ.get("KUBENOVA_CHAOS_SEED") or "81022100"
SEED = random.SystemRandom().randrange(1 << 30) if _SEED == "random" else int(_SEED)
SERVERS = int(os.environ.get("KUBENOVA_CHAOS_SERVERS", "16"))
STEPS = int(os.environ.get("KUBENOVA_CHAOS_STEPS", "60"))
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900 + 10 * SERVERS + 10 * STEPS)]
NODES = max(3, SERVERS // 16)


class Run:
    """The driver: applies the plan's steps to the cluster and keeps the figures."""

    def __init__(
        self, cluster: Cluster, kube: Client, operator: Operator, namespace: str, hosts: list[str], *, made: Made
    ) -> None:
        self.cluster, self.kube, self.operator, self.ns, self.hosts = cluster, kube, operator, namespace, hosts
        self.made = made
        # A VM boots an Image (its root disk a DataVolume), so that createImage has a disk to clone.
        self.images_of = {"container": IMAGES, "kubevirt": vm_images(namespace)}
        self.baseline = {h: chaos.usage(k.get(kube, "host", h)) for h in hosts}
        self.rng = random.Random(SEED)
        self.expected: dict[str, chaos.Expected] = {}
        self.flavor: dict[str, int] = {}  # index into FLAVORS the spec names
        self.image: dict[str, int] = {}
        self.pending: dict[str, tuple[str, str]] = {}  # server -> (its unfinished ServerAction, kind)
        self.to_create = [f"c{i:03d}" for i in range(SERVERS)]
        self.down: dict[str, int] = {}  # lost node -> steps until it comes back
        self.faults: Counter[str] = Counter()
        self.actions: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()  # the faults of the servers seen in ERROR
        self.snapshots: dict[str, str] = {}  # image -> the createImage ServerAction that makes it
        self.held: dict[str, str] = {}  # server -> the host its live migration is held at (to abort it)
        self.controls: list[tuple[str, str]] = []  # abortLiveMigration / forceComplete ServerActions
        self.wrong: list[str] = []  # outcomes the model refuses (a container's snapshot not 501, say)

    # --- actions ----------------------------------------------------------------------------

    def create(self, count: int) -> None:
        batch, self.to_create = self.to_create[:count], self.to_create[count:]
        for name in batch:
            backend = chaos.backend_of(name)
            body = k.server(name, self.ns, flavor=FLAVORS[0], image=self.images_of[backend][0], backend=backend,
                            availabilityZone=ZONE)  # fmt: skip
            try:
                self.cluster.apply([body])
            except ClusterError as exc:  # the webhook down: failurePolicy Fail refuses it
                self.refused["create" if "webhook" in str(exc) else "create (API server)"] += 1
                self.to_create.append(name)  # the user tries again later
                continue
            self.expected[name], self.flavor[name], self.image[name] = chaos.Expected(), 0, 0
            self.actions["create"] += 1

    def act(self, step: chaos.Step) -> None:
        names = sorted(self.expected)
        if not names:
            return
        name = names[(step.server or 0) % len(names)]
        exp = self.expected[name]
        if name in self.held:
            self.release(name)
            return
        if exp.deleted or not self.settle_pending(name):
            return
        s = retried(lambda: k.status(self.kube, "server", name, self.ns))
        if s.get("taskState"):
            return
        if s.get("status") == "ERROR":
            self.errors[str((s.get("fault") or {}).get("message"))[:120]] += 1
        action = chaos.choose(step.kind, s.get("status"), self.rng, chaos.backend_of(name))
        if action is None:
            return
        srv = k.Srv(self.kube, self.ns, name)
        if action in chaos.VOLUME_ACTIONS:
            action, claim = chaos.volume_change(action, exp.volumes, chaos.volume_claims(name), self.rng)
            after = dataclasses.replace(exp)
            after.apply(action, claim)
            retried(lambda: srv.declare(volumes=[{"claimName": c} for c in after.volumes]))
            exp.apply(action, claim)
            self.actions[action] += 1
            return
        if action in chaos.DECLARES:
            retried(lambda: srv.declare(state=chaos.DECLARES[action]))
        elif action == "resize":
            self.flavor[name] ^= 1
            retried(lambda: srv.declare(flavor=FLAVORS[self.flavor[name]]))
        elif action == "rebuild":
            self.image[name] ^= 1
            retried(lambda: srv.declare(image=self.images_of[chaos.backend_of(name)][self.image[name]]))
        elif action == "delete":
            retried(lambda: self.cluster.kubectl("delete", "server", name, "-n", self.ns, "--wait=false"))
        else:
            self.start_action(name, action, s)
            return
        exp.apply(action)
        self.actions[action] += 1

    def start_action(self, name: str, action: str, status: dict[str, Any]) -> None:
        kind = {"confirm": "confirmResize", "revert": "revertResize"}.get(action, action)
        spec: dict[str, Any] = {}
        hold = False
        if action == "reboot":
            spec["type"] = self.rng.choice(("SOFT", "HARD"))
        elif action == "createImage":
            # About one in five is named for the simulated CDI to fail its clone: the Image killed.
            image = f"snap-{self.ns}-{len(self.snapshots)}" + (".invalid" if self.rng.randrange(5) == 0 else "")
            self.made.track("image", image)
            spec["imageName"] = image
        elif action == "liveMigrate":
            spec, hold = self.live_target(name, status)
        sa = self.apply_action(name, kind, **spec)
        if sa is None:
            self.refused[action] += 1
            if action == "liveMigrate" and hold:
                self.unhold(spec["host"])
            return
        if action == "createImage":
            self.snapshots[spec["imageName"]] = sa
        if action == "liveMigrate" and hold:
            self.held[name] = spec["host"]
        if action == "revert" and (status.get("migration") or {}).get("kind") == "resize":
            action = "revert-resize"  # the spec must name the old flavor again once reverted
        self.pending[name] = (sa, action)

    def apply_action(self, name: str, kind: str, **spec: Any) -> str | None:
        """A ServerAction on ``name``; its name, or None if the API server refused it."""
        sa = f"{name}-{kind.lower()}-{uuid.uuid4().hex[:5]}"
        try:
            self.cluster.apply([k.manifest("ServerAction", sa, self.ns, server=name, action=kind, **spec)])
        except ClusterError:
            return None
        return sa

    # --- live migration held in flight, to abort it ------------------------------------------

    def live_target(self, name: str, status: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """A liveMigrate's spec, a third each: to no host (the scheduler's choice), to a named host,
        or to a named host held (the simulated KubeVirt keeps the migration Running while the host
        has :data:`instances.HOLD_LABEL`) for a later abort or force_complete."""
        choice = self.rng.randrange(3)  # to no host, to a named one, to a named one held
        if chaos.backend_of(name) != "kubevirt" or choice == 0:
            return {}, False
        busy = {status.get("host"), *self.down, *self.held.values()}
        hosts = [h for h in self.hosts if h not in busy]
        if not hosts:
            return {}, False
        host, hold = self.rng.choice(hosts), choice == 2
        if hold:
            retried(lambda: self.cluster.kubectl("label", "node", host, f"{instances.HOLD_LABEL}=true", "--overwrite"))
        return {"host": host}, hold

    def unhold(self, host: str) -> None:
        retried(lambda: self.cluster.kubectl("label", "node", host, f"{instances.HOLD_LABEL}-"))

    def release(self, name: str) -> None:
        """The held live migration of ``name``: aborted (two times in three) or force-completed,
        then its host let go (the migration ends either way)."""
        host = self.held.pop(name)
        kind = "abortLiveMigration" if self.rng.randrange(3) else "forceComplete"
        sa = self.apply_action(name, kind)
        if sa is not None:  # wait a while for the operator to take it, so that it meets the migration
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not self.ended(sa):
                time.sleep(0.5)
            self.controls.append((sa, kind))
        self.unhold(host)

    def message(self, sa: str) -> str | None:
        return retried(lambda: k.status(self.kube, "serveraction", sa, self.ns)).get("message")

    def ended(self, sa: str) -> str | None:
        phase = retried(lambda: k.status(self.kube, "serveraction", sa, self.ns)).get("phase")
        return str(phase) if phase in ("Succeeded", "Failed") else None

    def settle_pending(self, name: str) -> bool:
        """Whether ``name`` has no unfinished ServerAction (the model takes in a finished one)."""
        if name not in self.pending:
            return True
        sa, action = self.pending[name]
        phase = retried(lambda: k.status(self.kube, "serveraction", sa, self.ns)).get("phase")
        if phase not in ("Succeeded", "Failed"):
            return False
        del self.pending[name]
        self.check_refusal(name, sa, action, phase)
        if phase == "Failed":
            aborted = action == "liveMigrate" and self.message(sa) == "The live migration was aborted."
            self.refused[f"{action} (aborted)" if aborted else action] += 1
            return True
        if action == "revert-resize":
            self.flavor[name] ^= 1
            srv = k.Srv(self.kube, self.ns, name)
            retried(lambda: srv.declare(flavor=FLAVORS[self.flavor[name]]))
            action = "revert"
        self.expected[name].apply(action)
        self.actions[action] += 1
        return True

    def check_refusal(self, name: str, sa: str, action: str, phase: str) -> None:
        """A container server's snapshot or live migration must be refused: Nova's 501, or its 409
        when the state refused it first (a spec edit made just before may have started a task)."""
        if action not in chaos.NOT_SUPPORTED.get(chaos.backend_of(name), ()):
            return
        code = (retried(lambda: k.status(self.kube, "serveraction", sa, self.ns)).get("fault") or {}).get("code")
        if phase != "Failed" or code not in (501, 409):
            self.wrong.append(f"{sa}: {phase} (fault code {code}), expected Failed with 501 (or 409)")

    # --- faults -----------------------------------------------------------------------------

    def fault(self, kind: str) -> None:
        if kind == "operator":
            self.operator.kill()
            time.sleep(self.rng.uniform(0, 1.5))
            self.operator.start()
        elif kind == "webhook":  # the webhook is served by the operator: both down a while
            self.operator.kill()
            self.create(2)  # refused by failurePolicy: Fail, counted
            self.operator.start()
        elif kind == "apiserver":
            faults.restart(self.cluster, "kube-apiserver", down=self.rng.uniform(0, 3))
        elif kind == "etcd":
            faults.restart(self.cluster, "etcd", down=self.rng.uniform(0, 2))
        elif kind == "node":
            up = [h for h in self.hosts if h not in self.down]
            if len(up) < 2:
                return
            node = self.rng.choice(up)
            retried(lambda: faults.node_lost(self.cluster, node))
            self.down[node] = self.rng.randint(2, 6)
        self.faults[kind] += 1

    def tick(self) -> None:
        """One step passed: lost nodes whose time is up come back."""
        for node in list(self.down):
            self.down[node] -= 1
            if self.down[node] <= 0:
                retried(lambda n=node: faults.node_back(self.cluster, n))  # type: ignore[misc]
                del self.down[node]

    # --- the end ----------------------------------------------------------------------------

    def drain(self) -> None:
        """The faults stopped: every node back, every server created, every ServerAction ended
        and taken into the model."""
        for node in list(self.down):
            self.down[node] = 0
        self.tick()
        for name in list(self.held):
            self.release(name)
        while self.to_create:
            self.create(len(self.to_create))

        def settled() -> bool:
            controls = all(self.ended(sa) for sa, _ in self.controls)
            return all(self.settle_pending(name) for name in list(self.pending)) and controls

        waiting.until(settled, timeout=300, interval=1, what="every ServerAction ended")

    def problems(self) -> list[str]:
        servers = k.items(self.kube, "server", self.ns)
        workloads = k.workloads(self.kube, self.ns)
        owners = [w["metadata"]["labels"][SERVER_LABEL] for w in workloads]
        vms = {w["metadata"]["labels"][SERVER_LABEL]: w for w in workloads if "template" in w["spec"]}
        hosts = [k.get(self.kube, "host", h) for h in self.hosts]
        actions = k.items(self.kube, "serveraction", self.ns)
        phases = {a["metadata"]["name"]: (a.get("status") or {}).get("phase") for a in actions}
        images = [k.get(self.kube, "image", i) for i in self.snapshots]
        return [
            *chaos.check_states(servers, self.expected),
            *chaos.check_workloads(servers, owners),
            *chaos.check_claims(servers, hosts, self.baseline),
            *chaos.check_actions(actions),
            *chaos.check_volumes(servers, self.expected, vms),
            *chaos.check_images([i for i in images if i], {i: phases.get(sa) for i, sa in self.snapshots.items()}),
            *chaos.check_migrations(k.items(self.kube, "migration", self.ns), servers),
            *self.wrong,
        ]

    def control_figures(self) -> dict[str, int]:
        """The abortLiveMigration and forceComplete ServerActions by outcome."""
        return dict(Counter(f"{kind} {self.ended(sa)}" for sa, kind in self.controls))

    def snapshot_figures(self) -> dict[str, int]:
        found = Counter(k.status(self.kube, "image", i).get("status") or "never made" for i in self.snapshots)
        return {"tried": len(self.snapshots), **found}


def test_chaos_actions_and_faults_leave_every_server_where_its_spec_says(
    cluster: Cluster, kube: Client, operator: Operator, namespace: str, made: Made
) -> None:
    print(f"chaos seed {SEED} (replay: KUBENOVA_CHAOS_SEED={SEED})", flush=True)
    hosts = prepare(kube, namespace, made, hosts=NODES, servers=SERVERS)
    run = Run(cluster, kube, operator, namespace, hosts, made=made)
    run.create(SERVERS // 2)
    started = time.monotonic()
    try:
        for i, step in enumerate(chaos.plan(SEED, servers=SERVERS, steps=STEPS)):
            if i % 4 == 0 and run.to_create:
                run.create(max(1, SERVERS // STEPS * 4))
            if step.is_fault:
                run.fault(step.kind)
            else:
                run.act(step)
            run.tick()
            time.sleep(run.rng.uniform(0, 0.5))
        print(f"chaos: {STEPS} steps in {time.monotonic() - started:.0f}s", flush=True)
        run.drain()
        found = waiting.until(lambda: not retried(run.problems), timeout=300, interval=2, what="the invariants")
        assert found
        seen = {  # read before the servers go (their Migrations and ServerActions go with them)
            "snapshots": run.snapshot_figures(),
            "live_migration_controls": run.control_figures(),
            "migrations": len(k.items(kube, "migration", namespace)),
        }
    except BaseException as exc:
        problems = retried(run.problems)
        raise AssertionError(
            f"chaos seed {SEED} failed (replay: KUBENOVA_CHAOS_SEED={SEED}): {exc}\n" + "\n".join(problems[:40])
        ) from exc
    finally:  # the chaos Hosts go only once no server claims them (made's clean-up waits for that)
        retried(lambda: cluster.kubectl("delete", "servers", "--all", "-n", namespace, "--wait=false"))
        # and their Nodes only once no Pod is bound to them: kwok never finishes a Pod whose Node
        # is gone, which kept this namespace Terminating for later tests (a CI run).
        cleared(kube, namespace)
    figures = {
        "seed": SEED,
        "servers": SERVERS,
        "steps": STEPS,
        "nodes": NODES,
        "seconds": round(time.monotonic() - started),
        "faults": dict(run.faults),
        "actions": dict(run.actions),
        "refused": dict(run.refused),
        "errors_seen": dict(run.errors),
        "snapshots": seen["snapshots"],
        "live_migration_controls": seen["live_migration_controls"],
        "invariant_checks": {
            "servers": len(run.expected),
            "hosts": len(hosts),
            "images": len(run.snapshots),
            "migrations": seen["migrations"],
            "problems": 0,
        },
    }
    print("chaos figures " + json.dumps(figures, sort_keys=True), flush=True)
