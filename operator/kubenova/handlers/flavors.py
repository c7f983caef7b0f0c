"""Flavor status: a Flavor is Ready once the operator has seen its current generation.

Its sizes are immutable (a CEL rule at admission), so there is nothing else to reconcile; the
servers that use a Flavor keep their own copy of it in their status, as Nova embeds it.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubenova import conditions, metrics
from kubenova.api.common import GROUP, VERSION
from kubenova.handlers import common, state
from kubenova.kube import client as kube
from kubenova.kube import resources


@kopf.on.event(GROUP, VERSION, "flavors", id="flavor-event")
@metrics.timed("Flavor")
async def flavor_event(
    *, event: kopf.RawEvent, name: str, meta: kopf.Meta, status: kopf.Status, memo: kopf.Memo, **_: Any
) -> None:
    if event["type"] == "DELETED":
        return
    generation = meta.get("generation")
    desired = {
        "observedGeneration": generation,
        "conditions": conditions.ready(
            status,
            ok=True,
            reason="Available",
            message="The flavor can be used by servers.",
            generation=generation,
            now=common.now(),
        ),
    }
    if conditions.differs(dict(status), desired):
        await kube.patch_status_if_exists(state.of(memo).client, resources.Flavor, name, desired)
