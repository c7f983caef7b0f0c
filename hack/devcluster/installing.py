"""Installing kubenova's API into a dev cluster: its CRDs (from the single source in
:mod:`kubenova.api`) and, for ``make run``, the examples.
"""

from __future__ import annotations

from pathlib import Path

from hack.devcluster.cluster import Cluster
from kubenova.api import crds, peering

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def install_crds(cluster: Cluster) -> None:
    """kubenova's CRDs, kopf's peering CRD and kubenova's peering object."""
    documents = [*crds.all_crds(), peering.peering_crd()]
    cluster.apply(documents, server_side=True)
    names = [f"crd/{d['metadata']['name']}" for d in documents]
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    cluster.apply([peering.peering_object()])


def example_folders(root: Path = EXAMPLES) -> list[Path]:
    """Example folders in order (``00-namespace``, ``01-flavors``...)."""
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.yaml")))


def apply_examples(cluster: Cluster, root: Path = EXAMPLES) -> None:
    for folder in example_folders(root):
        cluster.kubectl("apply", "-f", str(folder))
