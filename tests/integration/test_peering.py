"""Two operator replicas share one peering: the one with the higher priority works, the other
stands by, as a rollout or an HA install runs them."""

from __future__ import annotations

import pytest
from lightkube import Client

from hack.devcluster import operating
from hack.devcluster.cluster import Cluster
from kubenova.api import peering
from tests import kube as k
from tests import waiting

pytestmark = pytest.mark.integration


def test_the_lower_priority_replica_stands_by(cluster: Cluster, kube: Client) -> None:
    # The peering object is the session's (hack.devcluster.installing made it with the CRDs).
    env = {"KUBENOVA_STANDALONE": "false", "KUBENOVA_PEERING": "kubenova"}
    high = operating.start(cluster, env={**env, "KUBENOVA_PEERING_PRIORITY": "200"})
    low = operating.start(cluster, env={**env, "KUBENOVA_PEERING_PRIORITY": "100"})
    try:

        def peers() -> dict[str, object] | None:
            status: dict[str, object] = k.status(kube, "clusterkopfpeering", peering.PEERING_NAME)
            return status if len(status) >= 2 else None

        waiting.until(peers, what="both replicas to join the peering")
        waiting.until(lambda: "Pausing operations in favour of" in low.tail(200), what="the standby to pause")
        assert "Pausing operations" not in high.tail(200)
    finally:
        low.stop()
        high.stop()
