"""lightkube over :class:`kubenova.kube.transport.AiohttpTransport`, against a small aiohttp
server on loopback standing in for the API server's answers."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import httpx2
import pytest
from aiohttp import web
from lightkube import ApiError, AsyncClient
from lightkube.config.kubeconfig import KubeConfig
from lightkube.resources.core_v1 import ConfigMap

from kubenova.kube.transport import AiohttpTransport

Run = Callable[[AsyncClient, list[dict[str, Any]]], Awaitable[None]]


def _config(port: int) -> Any:
    return KubeConfig.from_dict(
        {
            "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    ).get()


async def _fake_api(seen: list[dict[str, Any]]) -> AsyncGenerator[int]:
    async def configmap(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        seen.append(
            {
                "method": request.method,
                "headers": dict(request.headers),
                "body": await request.text(),
                "query": request.query_string,
            }
        )
        if request.headers.get("Authorization") == "Bearer expired":
            status = {"kind": "Status", "apiVersion": "v1", "code": 401, "reason": "Unauthorized", "message": "no"}
            return web.Response(body=json.dumps(status).encode(), status=401, content_type="application/json")
        if name == "missing":
            status = {"kind": "Status", "apiVersion": "v1", "code": 404, "reason": "NotFound", "message": "nope"}
            # As the API server answers: no charset (lightkube compares the whole header).
            return web.Response(body=json.dumps(status).encode(), status=404, content_type="application/json")
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}}
        body["data"] = {"big": "x" * 200_000}  # more than one read's chunk
        return web.json_response(body)

    app = web.Application()
    app.router.add_route("*", "/api/v1/namespaces/ns/configmaps/{name}", configmap)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield port
    finally:
        await runner.cleanup()


def _run(check: Run) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    async def main() -> None:
        servers = _fake_api(seen)
        port = await servers.__anext__()
        client = AsyncClient(config=_config(port), transport=AiohttpTransport(ssl.create_default_context(), limit=2))
        try:
            await check(client, seen)
        finally:
            await client.close()
            await servers.aclose()

    asyncio.run(main())
    return seen


def test_a_get_reads_the_whole_answer() -> None:
    async def check(client: AsyncClient, seen: list[dict[str, Any]]) -> None:
        cms = await asyncio.gather(*(client.get(ConfigMap, f"c{i}", namespace="ns") for i in range(5)))
        assert [cm.metadata.name for cm in cms if cm.metadata] == [f"c{i}" for i in range(5)]
        assert all(len((cm.data or {})["big"]) == 200_000 for cm in cms)

    _run(check)


def test_a_patch_sends_its_body_and_content_type() -> None:
    async def check(client: AsyncClient, seen: list[dict[str, Any]]) -> None:
        await client.patch(ConfigMap, "c", {"data": {"a": "1"}}, namespace="ns")

    (req,) = _run(check)
    assert req["method"] == "PATCH"
    assert json.loads(req["body"]) == {"data": {"a": "1"}}
    assert req["headers"]["Content-Type"] == "application/strategic-merge-patch+json"
    assert req["headers"]["Authorization"] == "Bearer t"  # httpx's auth, above the transport


def test_an_error_answer_is_lightkubes_api_error() -> None:
    async def check(client: AsyncClient, seen: list[dict[str, Any]]) -> None:
        with pytest.raises(ApiError) as caught:
            await client.get(ConfigMap, "missing", namespace="ns")
        assert caught.value.status.code == 404
        assert caught.value.status.message == "nope"

    _run(check)


def test_no_server_is_httpx_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there

    async def main() -> None:
        client = AsyncClient(config=_config(port), transport=AiohttpTransport(ssl.create_default_context(), limit=2))
        try:
            with pytest.raises(httpx2.ConnectError):
                await client.get(ConfigMap, "c", namespace="ns")
        finally:
            await client.close()

    asyncio.run(main())
