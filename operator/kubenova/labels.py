"""Label and annotation keys kubenova reads or writes on objects it does not own.

Used by the operator (host discovery, the availability-zone label it keeps on Nodes) and by the
dev cluster (which labels its simulated compute nodes the way an admin labels real ones).
"""

from __future__ import annotations

PREFIX = "compute.kubenova.io"

# An admin puts this label (value "true") on each Node that kubenova may place Servers on.
COMPUTE_HOST = f"{PREFIX}/compute-host"
# kubenova keeps each compute Node's Nova availability zone in this label, so other tooling
# (topology spread, dashboards) can see the zone that Aggregates give it.
AVAILABILITY_ZONE = f"{PREFIX}/availability-zone"
