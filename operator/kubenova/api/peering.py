"""kopf's peering kind and kubenova's peering object, which keep a single active operator.

kopf (``kopf._cogs.structs.references``) looks for ``clusterkopfpeerings.kopf.dev/v1`` and
patches the named object's ``status`` with each replica's heartbeat; the replica with the
highest priority works, the others wait. kopf does not create the object, so it is installed
with the CRDs. Peers write arbitrary keys (their ids) into ``status``, hence the open schema.
"""

from __future__ import annotations

from typing import Any

PEERING_GROUP = "kopf.dev"
PEERING_NAME = "kubenova"


def peering_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"clusterkopfpeerings.{PEERING_GROUP}"},
        "spec": {
            "group": PEERING_GROUP,
            "scope": "Cluster",
            "names": {
                "kind": "ClusterKopfPeering",
                "listKind": "ClusterKopfPeeringList",
                "plural": "clusterkopfpeerings",
                "singular": "clusterkopfpeering",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "Heartbeats of kopf-based operators that share one peering name.",
                            "properties": {
                                "status": {
                                    "type": "object",
                                    "description": "One entry per live operator replica, keyed by its id.",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


def peering_object(name: str = PEERING_NAME) -> dict[str, Any]:
    return {
        "apiVersion": f"{PEERING_GROUP}/v1",
        "kind": "ClusterKopfPeering",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "kubenova"}},
    }
