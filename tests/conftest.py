"""Fixtures shared by every test.

Integration tests ask for ``cluster`` (a real etcd + kube-apiserver + kube-controller-manager +
kwok, started once per session by :mod:`hack.devcluster`, with kubenova's CRDs installed),
``operator`` (the kubenova operator as a child process against it) and ``namespace`` (a fresh
namespace per test). Unit tests ask for none of these and never start a cluster.

If the session fails, the cluster's folder (logs of every process, the operator's included) is
kept and its path printed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from hack.devcluster import cluster as devcluster
from hack.devcluster import installing, operating
from kubenova.api import crds
from tests import waiting

NODES = 3


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reverse",
        action="store_true",
        help="run the collected tests in reverse order (with -p randomly: to find order-dependence)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--reverse"):
        items.reverse()


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[devcluster.Cluster]:
    c = devcluster.start(nodes=NODES)
    try:
        installing.install_crds(c)
        # Established is not yet served: for a moment each new kind's list answers 429 "storage is
        # (re)initializing". An operator started then has lost a Server's first event; so wait.
        kinds = ",".join(d["metadata"]["name"] for d in crds.all_crds())
        waiting.until(lambda: c.kubectl("get", kinds, "-A", check=False).returncode == 0, what="the CRDs served")
    except BaseException:
        c.stop(keep=True)
        raise
    yield c
    failed = request.session.testsfailed > 0 or bool(os.environ.get("KUBENOVA_KEEP_CLUSTER"))
    c.stop(keep=failed)


@pytest.fixture(scope="session")
def operator(cluster: devcluster.Cluster) -> Iterator[operating.Operator]:
    op = operating.start(cluster, name="operator", webhook=True)
    yield op
    op.stop()


@pytest.fixture
def namespace(cluster: devcluster.Cluster) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    # Not waited for: the namespace controller finishes it in the background.
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
