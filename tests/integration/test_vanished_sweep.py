"""The vanished-Server sweep's list (:func:`kubenova.kube.servers.uids`, every 60 s: see
:mod:`kubenova.handlers.vanished`) against the real API server: it asks for the Servers' metadata
only (a PartialObjectMetadataList), which the API server serves for a custom resource, and it
names every Server with its uid.

The sweep's other half, forgetting a Server deleted while the watch was away, needs kopf's watch
to miss a DELETED event (a kube-apiserver restart that answers 410 Gone): the apiserver-faults
tests meet that when it happens; tests/unit/test_vanished.py holds what is then done."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lightkube import Client

from hack.devcluster.cluster import Cluster
from kubenova.api.common import API_VERSION
from kubenova.kube import client as kube_client
from kubenova.kube import servers as kube_servers
from tests import kube as k
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration
SERVERS = 3


@pytest.mark.usefixtures("operator")
def test_the_sweeps_list_names_every_server_with_its_uid_from_metadata_alone(
    cluster: Cluster,
    kube: Client,
    namespace: str,
    made: Made,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made.apply([k.flavor("sweep.small", vcpus=1, ram=256)])
    cluster.apply([k.server(f"s{i}", namespace, flavor="sweep.small", image="nginx:1.27") for i in range(SERVERS)])
    stored = {f"{namespace}/{s['metadata']['name']}": s["metadata"]["uid"] for s in k.items(kube, "server", namespace)}
    assert len(stored) == SERVERS
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))

    async def read() -> tuple[dict[str, str], dict[str, Any]]:
        client = kube_client.make()  # the operator's own client
        try:
            uids = await kube_servers.uids(client)
            # What the API server answers the same Accept header with, as it is sent.
            http: Any = client._client._client  # private: lightkube's httpx client
            answer = await http.get(
                f"/apis/{API_VERSION}/namespaces/{namespace}/servers", headers={"Accept": kube_client.METADATA_LIST}
            )
            answer.raise_for_status()
            return uids, answer.json()
        finally:
            await client.close()

    uids, listed = asyncio.run(read())
    assert {key: uid for key, uid in uids.items() if key.startswith(f"{namespace}/")} == stored
    assert listed["kind"] == "PartialObjectMetadataList"
    assert len(listed["items"]) == SERVERS
    assert all(set(item) == {"kind", "apiVersion", "metadata"} for item in listed["items"])
