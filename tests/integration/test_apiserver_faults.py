"""kube-apiserver SIGKILLed and started again (hack/devcluster/faults.restart) while a Host is
emptied for maintenance and while many creates race for a Quota (issue 15, section 1).

Each test has Nodes (so Hosts) and a zone of its own, so that the Hosts' usage is its servers'
alone and the invariant checks of the chaos test (tests/chaos.py) apply as they are. Nothing is
timed: the tests wait, with a bound, for the states the invariants name. Each prints its figures
as one JSON line (restarts, servers, checks).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest
from lightkube import ApiError, AsyncClient, Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta

from hack.devcluster import faults, nodes
from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from kubenova.backends.workload import SERVER_LABEL
from kubenova.kube import resources
from tests import chaos, waiting
from tests import kube as k
from tests.integration.chaos_cluster import cleared, retried
from tests.integration.conftest import Made, no_namespace_terminating

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
FLAVOR = "af.small"
IMAGES = {"container": "nginx:1.27", "kubevirt": "quay.io/containerdisks/fedora:40"}
MAINTENANCE_SERVERS = 6  # half Pods, half VirtualMachines
QUOTA = 4  # instances, cores (1 each) and ram (256 MiB each) all allow this many
RACERS = 16
EVERY_VARIANT = os.environ.get("KUBENOVA_FAULTS_ALL") == "1"
"""``make test`` runs the variant of each test that takes the most faults (maintenance by live and
cold moves; the quota race with the operator killed too), a minute each; KUBENOVA_FAULTS_ALL=1
adds the others (maintenance by stopping; the race with kube-apiserver restarts alone)."""


def backend_of(i: int) -> str:
    return "kubevirt" if i % 2 else "container"


def own_zone(made: Made, kube: Client, name: str, first: int, count: int) -> list[str]:
    """``count`` compute Nodes in an Aggregate ``name`` whose zone only this test uses."""
    bodies = nodes.compute_nodes(count, prefix=name, first=first, zones=())
    hosts = [n["metadata"]["name"] for n in bodies]
    made.apply(bodies)
    for h in hosts:
        made.track("node", h)
    made.apply(
        [k.flavor(FLAVOR, vcpus=1, ram=256, disk=1), k.manifest("Aggregate", name, hosts=hosts, availabilityZone=name)]
    )
    for h in hosts:
        k.wait_for(
            kube,
            "host",
            h,
            check=lambda s: s.get("state") == "up" and s.get("availabilityZone") == name,
            timeout=60,
            what=f"host {h} up in zone {name}",
        )
    return hosts


def patch_host(cluster: Cluster, kube: Client, host: str, **spec: Any) -> None:
    """Merge ``spec`` into the Host's spec and wait until the operator has seen it (its status
    reports the generation)."""
    retried(lambda: cluster.kubectl("patch", "host", host, "--type=merge", "-p", json.dumps({"spec": spec})))
    generation = retried(lambda: k.get(kube, "host", host))["metadata"]["generation"]
    k.wait_for(kube, "host", host, check=lambda s: s.get("observedGeneration", 0) >= generation, timeout=60)


def node_of(workload: dict[str, Any]) -> str | None:
    """The node a workload runs on (a Pod's nodeName, a VirtualMachine's hostname pin)."""
    spec = workload.get("spec") or {}
    if workload["kind"] == "Pod":
        return spec.get("nodeName")
    selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    return selector.get("kubernetes.io/hostname")


class Checks:
    """The invariants over one namespace and its zone's Hosts, counted as they are checked."""

    def __init__(self, kube: Client, namespace: str, hosts: list[str]) -> None:
        self.kube, self.ns, self.hosts = kube, namespace, hosts
        self.baseline = {h: chaos.usage(k.get(kube, "host", h)) for h in hosts}  # reserved memory
        self.rounds = 0
        self.last: list[str] = []

    def problems(self, expected: dict[str, chaos.Expected], where: Callable[[str, str | None], bool]) -> list[str]:
        """The chaos test's checks (states, one workload each, claims = Host usage), plus: each
        server's host is one ``where(name, host)`` allows, and its workload runs there."""
        servers = k.items(self.kube, "server", self.ns)
        loads = k.workloads(self.kube, self.ns)
        found = [
            *chaos.check_states(servers, expected),
            *chaos.check_workloads(servers, [w["metadata"]["labels"][SERVER_LABEL] for w in loads]),
            *chaos.check_claims(servers, [k.get(self.kube, "host", h) for h in self.hosts], self.baseline),
        ]
        host = {s["metadata"]["name"]: (s.get("status") or {}).get("host") for s in servers}
        found += [f"{n}: on {h}" for n, h in host.items() if not where(n, h)]
        for w in loads:
            name = w["metadata"]["labels"][SERVER_LABEL]
            if name in host and node_of(w) != host[name]:
                found.append(f"{name}: its {w['kind']} is on {node_of(w)}, the server on {host[name]}")
        self.rounds += 1
        self.last = found
        return found

    def hold(self, expected: dict[str, chaos.Expected], where: Callable[[str, str | None], bool], what: str) -> None:
        try:
            waiting.until(
                lambda: not retried(lambda: self.problems(expected, where)), timeout=240, interval=2, what=what
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n" + "\n".join(self.last[:40])) from None


@pytest.fixture(autouse=True)
def no_namespace_deleting(cluster: Cluster, kube: Client) -> None:
    """Before kube-apiserver is restarted: no namespace (of an earlier test) still being deleted.
    A namespace deletion that fails during a restart is retried by kube-controller-manager's
    namespace controller with a growing delay (minutes after a few restarts), which would leave
    it Terminating long after this test, for later tests to wait on."""
    no_namespace_terminating(cluster, kube)


# --- a Host's maintenance ------------------------------------------------------------------------


def moving(kube: Client, namespace: str) -> bool:
    """Whether a server is being moved now (a task state, or a move not ended)."""
    for s in k.items(kube, "server", namespace):
        st = s.get("status") or {}
        if st.get("taskState") or (st.get("migration") or {}).get("status") not in chaos.MOVE_ENDED:
            return True
    return False


@pytest.mark.usefixtures("operator")
@pytest.mark.parametrize("mode", ["migrate", "stop"] if EVERY_VARIANT else ["migrate"])
def test_apiserver_restarts_while_a_host_is_emptied_for_maintenance(
    cluster: Cluster, kube: Client, namespace: str, made: Made, mode: str
) -> None:
    hosts = own_zone(made, kube, f"maint-{mode}", {"migrate": 800, "stop": 810}[mode], 3)
    target, others = hosts[0], hosts[1:]
    checks = Checks(kube, namespace, hosts)
    cluster.apply([k.manifest("Quota", "default", namespace, instances=-1, cores=-1, ram=-1)])
    for h in others:  # only the target takes the servers while they build
        patch_host(cluster, kube, h, enabled=False)
    names = [f"m{i}" for i in range(MAINTENANCE_SERVERS)]
    spec = {"flavor": FLAVOR, "availabilityZone": f"maint-{mode}"}
    cluster.apply([k.server(n, namespace, image=IMAGES[backend_of(i)], backend=backend_of(i), **spec)
                   for i, n in enumerate(names)])  # fmt: skip
    expected = {n: chaos.Expected() for n in names}
    checks.hold(expected, lambda _, h: h == target, "every server ACTIVE on the target")
    for h in others:
        patch_host(cluster, kube, h, enabled=True)

    restarts = 0
    try:
        patch_host(cluster, kube, target, maintenance=mode, enabled=False)
        faults.restart(cluster, "kube-apiserver", down=0.5)  # right after the operator saw it
        restarts += 1
        # Again while servers are being moved (or stopped), if any still is.
        if retried(lambda: moving(kube, namespace)):
            faults.restart(cluster, "kube-apiserver", down=2)
            restarts += 1
        if mode == "migrate":
            checks.hold(expected, lambda _, h: h in others, "every server ACTIVE off the target")
            for s in k.items(kube, "server", namespace):  # an admin's move needs no confirmation
                assert s["status"]["migration"]["status"] in ("confirmed", "completed"), s["status"]["migration"]
        else:
            stopped = {n: chaos.Expected(state="stopped") for n in names}
            checks.hold(stopped, lambda _, h: h == target, "every server SHUTOFF on the target")

        def complete() -> dict[str, Any] | None:
            found: dict[str, Any] | None = k.status(kube, "host", target).get("maintenance")
            return found if found and found.get("state") == "complete" else None

        done = waiting.until(complete, timeout=60, what="the Host's maintenance complete")
        assert done == {"mode": mode, "state": "complete", "serversLeft": 0}
        if mode == "migrate":
            # Its usage follows within the usage interval (KUBENOVA_USAGE_INTERVAL_SECONDS).
            waiting.until(lambda: k.status(kube, "host", target)["runningVms"] == 0, what="no server left")
        # Ending the maintenance: a stopped server returns to what its spec says, on the target.
        patch_host(cluster, kube, target, maintenance=None, enabled=True)
        faults.restart(cluster, "kube-apiserver", down=1)
        restarts += 1
        if mode == "stop":
            checks.hold(expected, lambda _, h: h == target, "every server ACTIVE again on the target")
        assert "maintenance" not in retried(lambda: k.status(kube, "host", target))
    finally:
        retried(lambda: cluster.kubectl("patch", "host", target, "--type=merge", "-p", '{"spec":{"maintenance":null}}'))
        retried(lambda: cluster.kubectl("delete", "servers", "--all", "-n", namespace, "--wait=false"))
    cleared(kube, namespace)
    figures = {"mode": mode, "restarts": restarts, "servers": len(names), "hosts": len(hosts),
               "check_rounds": checks.rounds}  # fmt: skip
    print("apiserver-faults maintenance figures " + json.dumps(figures), flush=True)


# --- a quota race ------------------------------------------------------------------------------


class Race:
    """Creates of ``names`` as concurrent requests, a little apart, each tried again while the API
    server is away (a dropped connection, a 5xx, the webhook unreachable) until it has an answer:
    "created" (a 409 on a retry: an earlier try went through) or the refusal's message."""

    def __init__(self, cluster: Cluster, namespace: str, names: list[str], zone: str) -> None:
        self.cluster, self.ns, self.names, self.zone = cluster, namespace, names, zone
        self.answers: dict[str, str] = {}
        self.retries = 0
        self.third = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self.run()), name="quota-race")

    async def run(self) -> None:
        client = AsyncClient(config=KubeConfig.from_file(str(self.cluster.kubeconfig)), field_manager=k.FIELD_MANAGER)
        try:
            await asyncio.gather(*(self.one(client, i, n) for i, n in enumerate(self.names)))
        finally:
            await client.close()

    async def one(self, client: AsyncClient, i: int, name: str) -> None:
        await asyncio.sleep(i * 0.1)
        spec = {
            "flavor": FLAVOR,
            "image": IMAGES[backend_of(i)],
            "backend": backend_of(i),
            "availabilityZone": self.zone,
        }
        body = resources.Server(metadata=ObjectMeta(name=name, namespace=self.ns), spec=spec)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                await client.create(body)
                self.answer(name, "created")
                return
            except ApiError as exc:
                message, code = str(exc.status.message), exc.status.code or 0
                if code == 409:
                    self.answer(name, "created")
                    return
                if code < 500 and code != 429 and "failed calling webhook" not in message:
                    self.answer(name, message)
                    return
            except httpx.HTTPError:
                pass
            self.retries += 1
            await asyncio.sleep(0.5)
        self.answer(name, "no answer")

    def answer(self, name: str, what: str) -> None:
        self.answers[name] = what
        if len(self.answers) >= len(self.names) // 3:
            self.third.set()


class QuotaRace:
    """One namespace's race for a Quota of :data:`QUOTA` servers, and its checks."""

    def __init__(
        self,
        cluster: Cluster,
        kube: Client,
        operator: Operator,
        namespace: str,
        hosts: list[str],
        *,
        also_operator: bool,
    ) -> None:
        self.cluster, self.kube, self.operator, self.ns, self.hosts = cluster, kube, operator, namespace, hosts
        self.also_operator = also_operator
        self.checks = Checks(kube, namespace, hosts)
        self.restarts = 0
        self.created: list[str] = []

    def fault(self) -> None:
        """kube-apiserver SIGKILLed and started again after 1 s (with the operator, if asked)."""
        if self.also_operator:
            self.operator.kill()
        try:
            faults.restart(self.cluster, "kube-apiserver", down=1)
            self.restarts += 1
        finally:
            if self.also_operator:
                self.operator.start()

    def split(self) -> tuple[list[str], list[str]] | None:
        """(ACTIVE, ERROR) once every created server has settled and as many are ACTIVE as the
        Quota allows (a refused one is tried again once there is room), else None."""
        servers = {s["metadata"]["name"]: s.get("status") or {} for s in k.items(self.kube, "server", self.ns)}
        if sorted(servers) != sorted(self.created) or any(st.get("taskState") for st in servers.values()):
            return None
        active = sorted(n for n, st in servers.items() if st.get("status") == "ACTIVE")
        errors = sorted(n for n, st in servers.items() if st.get("status") == "ERROR")
        settled = len(active) + len(errors) == len(self.created)
        return (active, errors) if settled and len(active) >= min(QUOTA, len(self.created)) else None

    def limits_hold(self) -> tuple[list[str], list[str]]:
        """Once settled: the Quota's count of servers ACTIVE (as many as fit: none lost to a
        double count, else the wait times out), the rest refused with Nova's quota fault and
        holding nothing, claims and Host usage agreeing, and the Quota's status usage the real sum."""
        active, errors = waiting.until(
            lambda: retried(self.split), timeout=240, interval=1, what="every server settled"
        )
        assert len(active) <= QUOTA
        for n in errors:
            st = k.status(self.kube, "server", n, self.ns)
            assert (st["fault"]["code"], st["fault"]["message"][:19]) == (403, "Quota exceeded for "), st["fault"]
            assert "claim" not in st, st  # holds no host
            assert "flavor" not in st, st  # holds no quota
        expected = {n: chaos.Expected() for n in active}
        self.checks.hold(
            expected, lambda n, h: (h in self.hosts) if n in active else h is None, "claims and Host usage agree"
        )

        def counted() -> bool:
            found = k.status(self.kube, "quota", "default", self.ns)["resources"]
            used = {r: v.get("inUse") for r, v in found.items()}
            return (used["instances"], used["cores"], used["ram"]) == (len(active), len(active), 256 * len(active))

        waiting.until(lambda: retried(counted), timeout=60, what="the Quota's usage the real sum")
        assert len(active) == min(QUOTA, len(self.created)), (active, errors)
        return active, errors


@pytest.mark.parametrize(
    "also_operator",
    [pytest.param(False, id="apiserver"), pytest.param(True, id="apiserver+operator")]
    if EVERY_VARIANT
    else [pytest.param(True, id="apiserver+operator")],
)
def test_apiserver_restarts_during_a_quota_race_and_the_limits_hold(
    cluster: Cluster, kube: Client, *, operator: Operator, namespace: str, made: Made, also_operator: bool
) -> None:
    zone = "qrace-op" if also_operator else "qrace"
    hosts = own_zone(made, kube, zone, 840 if also_operator else 830, 2)
    cluster.apply([k.manifest("Quota", "default", namespace, instances=QUOTA, cores=QUOTA, ram=QUOTA * 256)])
    waiting.until(lambda: k.status(kube, "quota", "default", namespace).get("absolute"), what="quota counted")
    q = QuotaRace(cluster, kube, operator, namespace, hosts, also_operator=also_operator)
    race = Race(cluster, namespace, [f"q{i:02d}" for i in range(RACERS)], zone)
    try:
        race.thread.start()
        try:
            assert race.third.wait(timeout=120), "a third of the creates answered"
            q.fault()  # while the rest are sent
        finally:
            race.thread.join(timeout=240)
        assert not race.thread.is_alive(), race.answers
        assert len(race.answers) == RACERS, race.answers
        q.fault()  # while the operator admits or refuses what got through
        q.created = sorted(n for n, a in race.answers.items() if a == "created")
        refused = {n: a for n, a in race.answers.items() if a != "created"}
        assert all("Quota exceeded for " in a for a in refused.values()), refused
        active, errors = q.limits_hold()
        # Room again, kube-apiserver restarted right after the delete: the first refused server
        # goes through by itself (tried in name order); if all were refused at admission, a new
        # create does (tried again while the API server or the webhook refuses it).
        retried(lambda: cluster.kubectl("delete", "server", active[0], "-n", namespace, "--wait=false"))
        q.created.remove(active[0])
        q.fault()
        through = errors[0] if errors else "q99"
        if not errors:
            again = k.server(through, namespace, flavor=FLAVOR, image=IMAGES["container"], availabilityZone=zone)
            retried(lambda: cluster.apply([again]))
            q.created.append(through)
        active2, errors2 = q.limits_hold()
        assert set(active2) - set(active) == {through}
        assert errors2 == errors[1:]
    finally:
        retried(lambda: cluster.kubectl("delete", "servers", "--all", "-n", namespace, "--wait=false"))
    cleared(kube, namespace)
    figures = {"operator_killed": also_operator, "restarts": q.restarts, "creates": RACERS, "quota": QUOTA,
               "created": RACERS - len(refused), "refused_at_admission": len(refused),
               "refused_by_operator": len(errors), "retried_requests": race.retries,
               "check_rounds": q.checks.rounds}  # fmt: skip
    print("apiserver-faults quota figures " + json.dumps(figures), flush=True)
