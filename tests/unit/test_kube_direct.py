"""lightkube over :class:`kubenova.kube.direct.Client` (requests for one object straight through
aiohttp), against the small aiohttp server of :mod:`tests.unit.test_kube_transport`."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from typing import Any

import httpx2
import pytest
from lightkube import ApiError
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from kubenova.kube import direct
from kubenova.kube.transport import AiohttpTransport
from tests.unit.test_kube_transport import Run, _config, _fake_api


def _run(check: Run, *, token: str = "t") -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    async def main() -> None:
        servers = _fake_api(seen)
        port = await servers.__anext__()
        config = _config(port)
        config.user.token = token
        client = direct.Client(
            config, field_manager="kubenova", transport=AiohttpTransport(ssl.create_default_context(), limit=2)
        )
        try:
            await check(client, seen)
        finally:
            await client.close()
            await servers.aclose()

    asyncio.run(main())
    return seen


def test_a_get_and_a_merge_patch_go_straight_with_lightkubes_path_body_and_models() -> None:
    async def check(client: Any, seen: list[dict[str, Any]]) -> None:
        got = await client.get(ConfigMap, "c", namespace="ns")
        assert got.metadata.name == "c"
        assert len(got.data["big"]) == 200_000
        patched = await client.patch(ConfigMap, "c", {"data": {"a": "1"}}, namespace="ns", patch_type=PatchType.MERGE)
        assert isinstance(patched, ConfigMap)

    get, patch = _run(check)
    assert get["method"] == "GET"
    assert get["headers"]["Authorization"] == "Bearer t"
    assert get["headers"]["Accept-Encoding"] == "identity"  # aiohttp would ask for gzip
    assert patch["method"] == "PATCH"
    assert json.loads(patch["body"]) == {"data": {"a": "1"}}
    assert patch["headers"]["Content-Type"] == "application/merge-patch+json"
    assert "fieldManager=kubenova" in patch["query"]


def test_an_error_answer_is_lightkubes_api_error() -> None:
    async def check(client: Any, seen: list[dict[str, Any]]) -> None:
        with pytest.raises(ApiError) as caught:
            await client.get(ConfigMap, "missing", namespace="ns")
        assert caught.value.status.code == 404
        assert caught.value.status.message == "nope"

    _run(check)


def test_a_401_is_retried_through_httpx_whose_auth_renews_tokens() -> None:
    async def check(client: Any, seen: list[dict[str, Any]]) -> None:
        with pytest.raises(ApiError) as caught:
            await client.get(ConfigMap, "c", namespace="ns")
        assert caught.value.status.code == 401

    assert len(_run(check, token="expired")) == 2  # straight, then through httpx


def test_no_server_is_httpx_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there

    async def main() -> None:
        transport = AiohttpTransport(ssl.create_default_context(), limit=2)
        client = direct.Client(_config(port), field_manager="kubenova", transport=transport)
        try:
            with pytest.raises(httpx2.ConnectError):
                await client.get(ConfigMap, "c", namespace="ns")
        finally:
            await client.close()

    asyncio.run(main())


def test_query_parameters_are_written_as_httpx_writes_them() -> None:
    assert direct.query({"force": True, "dryRun": None, "gracePeriodSeconds": 0, "x": False}) == {
        "force": "true",
        "gracePeriodSeconds": "0",
        "x": "false",
    }
