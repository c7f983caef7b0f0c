"""Fixtures of the integration tests: ``kube``, the run-wide lightkube client on the session's
cluster (readers and waiters in :mod:`tests.kube`), and ``made`` / ``module_made``, which
remember the cluster-scoped objects a test (or a module) makes and delete them when it ends.

Namespaced objects go with the test's namespace; everything else a test makes (Flavors,
Aggregates, Nodes and their Hosts, extra namespaces) goes through ``made``, so that no test sees
what another left, whatever the order (``pytest -p randomly`` shuffles it; see pyproject.toml).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pytest
from lightkube import Client

from hack.devcluster.cluster import Cluster
from tests import kube as k
from tests import waiting


@pytest.fixture(scope="session")
def kube(cluster: Cluster) -> Iterator[Client]:
    client = k.connect(cluster.kubeconfig)
    yield client
    client.close()


def no_namespace_terminating(cluster: Cluster, kube: Client, *, timeout: float = 180) -> None:
    """Wait until no namespace (an earlier test's, deleted without waiting) is being deleted, and
    hurry them: kube-controller-manager's namespace controller, finding a Pod not yet gone, looks
    again only after half its grace period (16 s for the default 30 s), and after a failure (a
    kube-apiserver restart) after a growing delay. Their Pods are deleted at once, and a label
    on the namespace makes the controller look again now."""

    def terminating() -> list[str]:
        namespaces = k.items(kube, "namespace")
        return [n["metadata"]["name"] for n in namespaces if (n.get("status") or {}).get("phase") == "Terminating"]

    def done() -> bool:
        left = terminating()
        for name in left:
            cluster.kubectl("delete", "pods", "--all", "-n", name, "--force", "--grace-period=0", check=False)
            cluster.kubectl("label", "namespace", name, f"kubenova.io/hurried={time.monotonic_ns()}", "--overwrite",
                            check=False)  # fmt: skip
        return not left

    waiting.until(done, timeout=timeout, interval=1, what="no namespace being deleted")


class Made:
    """Cluster-scoped objects made through it, deleted newest first by :meth:`clean`, which
    waits until they are gone and until what they changed is undone: a deleted Node's Host is
    gone (the operator deletes a Host left with no Node and no server), and the Hosts a deleted
    Aggregate named no longer list it (so their zone is back)."""

    def __init__(self, cluster: Cluster, kube: Client) -> None:
        self.cluster, self.kube = cluster, kube
        self.objects: list[tuple[str, str]] = []

    def track(self, kind: str, name: str) -> None:
        """Remember ``kind`` (kubectl's singular name) ``name`` for deletion."""
        if (kind, name) not in self.objects:
            self.objects.append((kind, name))

    def apply(self, objects: Iterable[Mapping[str, Any]]) -> None:
        """``cluster.apply``, tracking every object without a namespace."""
        objects = list(objects)
        for obj in objects:
            if not obj["metadata"].get("namespace"):
                self.track(obj["kind"].lower(), obj["metadata"]["name"])
        self.cluster.apply(objects)

    def add_nodes(self, count: int, **kwargs: Any) -> list[str]:
        """``cluster.add_nodes``, tracking the Nodes (and so their Hosts)."""
        nodes = self.cluster.add_nodes(count, **kwargs)
        for name in nodes:
            self.track("node", name)
        return nodes

    def namespace(self, name: str) -> str:
        self.cluster.kubectl("create", "namespace", name)
        self.track("namespace", name)
        return name

    def clean(self) -> None:
        if not self.objects:
            return
        aggregated = {
            name: k.get(self.kube, "aggregate", name).get("spec", {}).get("hosts", [])
            for kind, name in self.objects
            if kind == "aggregate"
        }
        for name in (name for kind, name in self.objects if kind == "namespace"):
            self._empty(name)
        for kind, name in reversed(self.objects):
            self.cluster.kubectl("delete", kind, name, "--ignore-not-found", "--wait=false")
        for kind, name in reversed(self.objects):
            if kind in k.KINDS:
                k.wait_gone(self.kube, kind, name, timeout=120)
            else:  # a kind tests.kube does not read: kubectl waits for it
                self.cluster.kubectl("wait", "--for=delete", f"{kind}/{name}", "--timeout=120s", check=False)
            if kind == "node":
                k.wait_gone(self.kube, "host", name, timeout=120)
        for aggregate, hosts in aggregated.items():
            for host in hosts:
                self._wait_out_of(host, aggregate)
        self.objects.clear()

    def _empty(self, namespace: str) -> None:
        """Delete the namespace's Servers and give their Pods a moment to go before the namespace
        is deleted: kube-controller-manager's namespace controller, finding a Pod not yet gone,
        looks again only after half its grace period (16 s for the default 30 s), even if the Pod
        is gone a moment later. The Pods' own deletion is quick: kwok ends them at once."""
        self.cluster.kubectl("delete", "servers", "--all", "-n", namespace, "--wait=false", check=False)

        def no_pods() -> bool:
            pods = self.cluster.kubectl("get", "pods", "-n", namespace, "-o", "name", check=False)
            return pods.returncode != 0 or not pods.stdout.strip()

        # The operator may be stopped in this test: then the namespace's deletion takes them.
        with contextlib.suppress(AssertionError):
            waiting.until(no_pods, timeout=30, what=f"the pods of {namespace} gone")

    def _wait_out_of(self, host: str, aggregate: str) -> None:
        def out() -> bool:
            return aggregate not in k.status(self.kube, "host", host).get("aggregates", [])

        waiting.until(out, timeout=60, what=f"host {host} out of aggregate {aggregate}")


@pytest.fixture
def made(cluster: Cluster, kube: Client) -> Iterator[Made]:
    m = Made(cluster, kube)
    yield m
    m.clean()


@pytest.fixture(scope="module")
def module_made(cluster: Cluster, kube: Client) -> Iterator[Made]:
    m = Made(cluster, kube)
    yield m
    m.clean()
