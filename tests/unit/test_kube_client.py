"""The operator's API client: its requests go through aiohttp, with the connection limit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import ApiError
from lightkube.models import meta_v1

from kubenova.kube import client as kube_client
from kubenova.kube import transport

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "x",
}


def test_requests_go_through_aiohttp_with_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    monkeypatch.setenv("KUBECONFIG", str(path))
    client = kube_client.make()
    used: Any = client._client._client._transport  # private: what make() configures
    assert isinstance(used, transport.AiohttpTransport)
    assert used.limit == kube_client.MAX_CONNECTIONS


@pytest.mark.parametrize(
    ("code", "not_found", "conflict"), [(404, True, False), (409, False, True), (500, False, False)]
)
def test_api_errors_are_named_by_their_code(code: int, not_found: bool, conflict: bool) -> None:
    exc = ApiError(status=meta_v1.Status(code=code, message="m"))
    assert kube_client.is_not_found(exc) is not_found
    assert kube_client.is_conflict(exc) is conflict


class StatusClient:
    """Just lightkube's AsyncClient.patch, answering with ``code`` (0: the patched object)."""

    def __init__(self, code: int) -> None:
        self.code = code

    async def patch(self, res: Any, name: str, body: Any, **kw: Any) -> Any:
        if self.code:
            raise ApiError(status=meta_v1.Status(code=self.code, message="m"))
        return body


def test_a_status_patch_of_an_object_deleted_meanwhile_is_none_not_an_error() -> None:
    """Found by tests/integration/test_fuzz.py: a ServerGroup deleted just after its create made
    the status handler log a 404 Traceback."""
    from kubenova.kube.resources import ServerGroup

    patch = kube_client.patch_status_if_exists
    assert asyncio.run(patch(StatusClient(404), ServerGroup, "gone", {"a": 1})) is None  # type: ignore[arg-type]
    assert asyncio.run(patch(StatusClient(0), ServerGroup, "here", {"a": 1})) == {"status": {"a": 1}}  # type: ignore[arg-type]
    with pytest.raises(ApiError):
        asyncio.run(patch(StatusClient(500), ServerGroup, "broken", {"a": 1}))  # type: ignore[arg-type]
