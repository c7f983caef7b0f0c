"""KubeVirt's subresource API (placeholder until the branch that implements and tests it lands)."""

from __future__ import annotations

from typing import Literal

from lightkube import AsyncClient


class SubresourceUnavailable(RuntimeError):
    """KubeVirt's subresource API is not served in this cluster."""


async def vmi_subresource(
    client: AsyncClient, namespace: str, name: str, action: Literal["pause", "unpause", "softreboot"]
) -> None:
    raise SubresourceUnavailable(f"cannot {action} {namespace}/{name}: subresources.kubevirt.io is not served")
