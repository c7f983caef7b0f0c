"""The operator writes a Server's status only over the version it planned from: a status computed
from an older body (a stale event or cache, found by the chaos test: an old body started a shelve
again over a finished offload) is refused with 409 instead of merged over the newer status, and
the reconcile plans again from a fresh read (``handlers.servers.reconcile``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lightkube import ApiError, AsyncClient, Client, KubeConfig

from hack.devcluster.cluster import Cluster
from kubenova.kube import servers as kube_servers
from tests import kube as k
from tests.integration.conftest import Made

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("operator")]


def test_a_status_planned_from_an_older_version_is_refused(
    cluster: Cluster, kube: Client, namespace: str, made: Made
) -> None:
    made.apply([k.flavor("stale.small", vcpus=1, ram=256)])
    cluster.apply([k.server("s", namespace, flavor="stale.small", image="nginx:1.27", backend="container")])
    srv = k.Srv(kube, namespace, "s")
    srv.wait("ACTIVE")
    old = srv.get()["metadata"]["resourceVersion"]
    srv.declare(state="stopped")
    srv.wait("SHUTOFF")

    async def write(rv: str | None) -> dict[str, Any]:
        client = AsyncClient(config=KubeConfig.from_file(str(cluster.kubeconfig)))
        try:
            return await kube_servers.patch_status(client, namespace, "s", {"lockedReason": "x"}, resource_version=rv)
        finally:
            await client.close()

    with pytest.raises(ApiError) as refused:
        asyncio.run(write(old))
    assert kube_servers.is_conflict(refused.value)
    after = srv.get()
    assert after["status"].get("lockedReason") is None  # nothing merged
    assert (after["status"]["status"], after["status"].get("taskState")) == ("SHUTOFF", None)
    # Over the version it is at, the same write goes through.
    body = asyncio.run(write(after["metadata"]["resourceVersion"]))
    assert body["status"]["lockedReason"] == "x"
