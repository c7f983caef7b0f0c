"""lightkube's two ways over aiohttp, against a small aiohttp server on loopback standing in for
the API server's answers: its own AsyncClient, whose httpx sends every request through
:class:`kubenova.kube.transport.AiohttpTransport`, and :class:`kubenova.kube.direct.Client`, which
sends a request for one object straight through that transport's aiohttp session. What both must
do is tested over both; what only the direct client does, at the end."""

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
from lightkube.types import PatchType

from kubenova.api.common import API_VERSION
from kubenova.kube import client as kube_client
from kubenova.kube import direct
from kubenova.kube import servers as kube_servers
from kubenova.kube.transport import AiohttpTransport

Check = Callable[[AsyncClient, list[dict[str, Any]]], Awaitable[None]]


@pytest.fixture(params=[AsyncClient, direct.Client], ids=["httpx", "direct"])
def client_class(request: pytest.FixtureRequest) -> type[AsyncClient]:
    cls: type[AsyncClient] = request.param
    return cls


def _client(client_class: type[AsyncClient], port: int, *, token: str = "t") -> AsyncClient:
    config: Any = KubeConfig.from_dict(
        {
            "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    ).get()
    transport = AiohttpTransport(ssl.create_default_context(), limit=2)
    return client_class(config, field_manager="kubenova", transport=transport)


async def _fake_api(seen: list[dict[str, Any]]) -> AsyncGenerator[int]:
    async def record(request: web.Request) -> None:
        seen.append(
            {
                "method": request.method,
                "headers": dict(request.headers),
                "body": await request.text(),
                "query": request.query_string,
            }
        )

    async def configmap(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        await record(request)
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

    async def servers(request: web.Request) -> web.Response:
        """Every namespace's Servers, metadata only (as the API server answers a list that asks
        for it), in two chunks."""
        await record(request)
        if request.headers.get("Accept") != kube_client.METADATA_LIST:
            return web.Response(status=406)
        first = "continue" not in request.query
        keys = [("ns", "a", "u1"), ("ns", "b", "u2")] if first else [("other", "a", "u3")]
        items = [
            {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
             "metadata": {"namespace": ns, "name": name, "uid": uid, "resourceVersion": "7"}}
            for ns, name, uid in keys
        ]  # fmt: skip
        listed = {"resourceVersion": "9", **({"continue": "more"} if first else {})}
        body = {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": listed}
        return web.json_response({**body, "items": items})

    app = web.Application()
    app.router.add_route("*", "/api/v1/namespaces/ns/configmaps/{name}", configmap)
    app.router.add_route("GET", f"/apis/{API_VERSION}/servers", servers)
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


def _run(client_class: type[AsyncClient], check: Check, *, token: str = "t") -> list[dict[str, Any]]:
    """The requests the fake API server saw while ``check`` ran with a client of ``client_class``."""
    seen: list[dict[str, Any]] = []

    async def main() -> None:
        servers = _fake_api(seen)
        port = await servers.__anext__()
        client = _client(client_class, port, token=token)
        try:
            await check(client, seen)
        finally:
            await client.close()
            await servers.aclose()

    asyncio.run(main())
    return seen


def test_a_get_reads_the_whole_answer(client_class: type[AsyncClient]) -> None:
    async def check(client: AsyncClient, seen: list[dict[str, Any]]) -> None:
        cms = await asyncio.gather(*(client.get(ConfigMap, f"c{i}", namespace="ns") for i in range(5)))
        assert [cm.metadata.name for cm in cms if cm.metadata] == [f"c{i}" for i in range(5)]
        assert all(len((cm.data or {})["big"]) == 200_000 for cm in cms)

    requests = _run(client_class, check)
    assert [r["method"] for r in requests] == ["GET"] * 5
    assert all(r["headers"]["Authorization"] == "Bearer t" for r in requests)


@pytest.mark.parametrize("patch_type", [PatchType.STRATEGIC, PatchType.MERGE])
def test_a_patch_sends_its_body_content_type_and_field_manager(
    client_class: type[AsyncClient], patch_type: PatchType
) -> None:
    async def check(client: AsyncClient, seen: list[dict[str, Any]]) -> None:
        patched = await client.patch(ConfigMap, "c", {"data": {"a": "1"}}, namespace="ns", patch_type=patch_type)
        assert isinstance(patched, ConfigMap)

    (req,) = _run(client_class, check)
    assert req["method"] == "PATCH"
    assert json.loads(req["body"]) == {"data": {"a": "1"}}
    assert req["headers"]["Content-Type"] == patch_type.value
    assert req["headers"]["Authorization"] == "Bearer t"
    assert "fieldManager=kubenova" in req["query"]


def test_an_error_answer_is_lightkubes_api_error(client_class: type[AsyncClient]) -> None:
    async def check(client: AsyncClient, seen: list[dict[str, Any]]) -> None:
        with pytest.raises(ApiError) as caught:
            await client.get(ConfigMap, "missing", namespace="ns")
        assert caught.value.status.code == 404
        assert caught.value.status.message == "nope"

    _run(client_class, check)


def test_no_server_is_httpx_connect_error(client_class: type[AsyncClient]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there

    async def main() -> None:
        client = _client(client_class, port)
        try:
            with pytest.raises(httpx2.ConnectError):
                await client.get(ConfigMap, "c", namespace="ns")
        finally:
            await client.close()

    asyncio.run(main())


def test_the_servers_uids_are_listed_from_their_metadata_alone_chunk_by_chunk(
    client_class: type[AsyncClient],
) -> None:
    async def check(client: AsyncClient, seen: list[dict[str, Any]]) -> None:
        assert await kube_servers.uids(client) == {"ns/a": "u1", "ns/b": "u2", "other/a": "u3"}

    first, second = _run(client_class, check)
    assert first["headers"]["Accept"] == second["headers"]["Accept"] == kube_client.METADATA_LIST
    assert "limit=500" in first["query"]
    assert "continue=more" in second["query"]


def test_the_direct_client_asks_for_no_compression() -> None:
    async def check(client: AsyncClient, seen: list[dict[str, Any]]) -> None:
        await client.get(ConfigMap, "c", namespace="ns")

    (get,) = _run(direct.Client, check)
    assert get["headers"]["Accept-Encoding"] == "identity"  # aiohttp would ask for gzip


def test_the_direct_client_retries_a_401_through_httpx_whose_auth_renews_tokens() -> None:
    async def check(client: AsyncClient, seen: list[dict[str, Any]]) -> None:
        with pytest.raises(ApiError) as caught:
            await client.get(ConfigMap, "c", namespace="ns")
        assert caught.value.status.code == 401

    assert len(_run(direct.Client, check, token="expired")) == 2  # straight, then through httpx


def test_the_direct_clients_query_parameters_are_written_as_httpx_writes_them() -> None:
    assert direct.query({"force": True, "dryRun": None, "gracePeriodSeconds": 0, "x": False}) == {
        "force": "true",
        "gracePeriodSeconds": "0",
        "x": "false",
    }
