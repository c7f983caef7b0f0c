"""The Compute API's application without a cluster: a fake door to Kubernetes stands in for the
API server, so the middleware (tokens, microversions, Nova's faults), the identity API and the
RBAC mapping are checked in-process."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient, TestServer

from kubenova.compute_api import app as api_app
from kubenova.compute_api.tokens import Tokens, new_key
from kubenova.kube.caller import Identity, Refused

NS = "demo"
SERVER = {
    "apiVersion": "compute.kubenova.io/v1alpha1",
    "kind": "Server",
    "metadata": {"name": "web-1", "namespace": NS, "uid": "uid-1", "creationTimestamp": "2026-12-01T09:00:00Z"},
    "spec": {"flavor": "m1.small", "image": "nginx:1.27", "locked": True},
    "status": {"id": "uid-1", "status": "ACTIVE", "vmState": "active", "powerStateCode": 1},
}


class FakeCaller:
    def __init__(self, rights: set[tuple[str, str]], store: dict[str, list[dict[str, Any]]]) -> None:
        self.rights = rights
        self.store = store
        self.writes: list[tuple[str, str, Any]] = []

    def _need(self, verb: str, kind: str) -> None:
        if (verb, kind) not in self.rights:
            raise Refused(403, f"{kind} is forbidden", "Forbidden")

    async def can(self, verb: str, resource: str, namespace: str | None = None, **_: Any) -> bool:
        return (verb, resource) in self.rights

    async def list(self, kind: str, namespace: str | None = None, **_: Any) -> list[dict[str, Any]]:
        self._need("list", kind)
        return list(self.store.get(kind, []))

    async def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        self._need("get", kind)
        return next((o for o in self.store.get(kind, []) if o["metadata"]["name"] == name), None)

    async def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self._need("create", kind)
        body["metadata"]["uid"] = f"uid-{len(self.writes)}"
        body["metadata"]["creationTimestamp"] = "2026-12-01T09:00:00Z"
        self.writes.append(("create", kind, body))
        return body

    async def patch(self, kind: str, name: str, patch: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        self._need("patch", kind)
        self.writes.append(("patch", kind, patch))
        return dict(SERVER)

    async def delete(self, kind: str, name: str, namespace: str | None = None) -> None:
        self._need("delete", kind)
        self.writes.append(("delete", kind, name))

    async def namespaces(self) -> builtins.list[str] | None:
        return None


READER = {("list", "servers"), ("get", "servers"), ("list", "flavors"), ("get", "flavors")}
MEMBER = READER | {("create", "servers"), ("patch", "servers"), ("delete", "servers"), ("create", "serveractions")}


class FakeDoor:
    def __init__(self) -> None:
        self.store: dict[str, list[dict[str, Any]]] = {
            "servers": [SERVER],
            "flavors": [{"metadata": {"name": "m1.small", "uid": "f"}, "spec": {"vcpus": 1, "ram": 512}}],
        }
        self.tokens = {"member-token": MEMBER, "reader-token": READER}
        self.callers: dict[str, FakeCaller] = {}

    async def review(self, token: str) -> Identity | None:
        if token not in self.tokens:
            return None
        return Identity(username=f"system:serviceaccount:{NS}:{token}", uid=f"u-{token}", groups=())

    def as_caller(self, token: str) -> FakeCaller:
        if token not in self.callers:
            self.callers[token] = FakeCaller(self.tokens.get(token, set()), self.store)
        return self.callers[token]

    async def close(self) -> None:
        pass


def run(test: Callable[[TestClient[Any, Any], FakeDoor], Awaitable[None]]) -> None:
    async def main() -> None:
        door = FakeDoor()
        application = api_app.make_app(door, Tokens(new_key()))  # type: ignore[arg-type]
        async with TestClient(TestServer(application)) as client:
            await test(client, door)

    asyncio.run(main())


async def login(client: TestClient[Any, Any], bearer: str, project: str | None = NS) -> tuple[int, Any, str]:
    auth: dict[str, Any] = {
        "identity": {"methods": ["password"], "password": {"user": {"name": "x", "password": bearer}}}
    }
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
    resp = await client.post("/identity/v3/auth/tokens", json={"auth": auth})
    return resp.status, await resp.json(), resp.headers.get("X-Subject-Token", "")


def test_a_token_carries_the_project_roles_and_catalog() -> None:
    async def t(client: TestClient[Any, Any], door: FakeDoor) -> None:
        code, body, token = await login(client, "member-token")
        assert code == 201
        assert token
        tok = body["token"]
        assert tok["project"]["id"] == NS
        assert [r["name"] for r in tok["roles"]] == ["member", "reader"]
        assert {c["type"] for c in tok["catalog"]} == {"identity", "compute", "image"}
        assert all(ep["region"] == "RegionOne" for c in tok["catalog"] for ep in c["endpoints"])
        code, body, _ = await login(client, "nope")
        assert code == 401
        assert body["error"]["code"] == 401

    run(t)


def test_every_call_carries_the_callers_token_and_rbac_refusals_are_novas_403() -> None:
    async def t(client: TestClient[Any, Any], door: FakeDoor) -> None:
        _, _, reader = await login(client, "reader-token")
        resp = await client.get("/compute/v2.1/servers", headers={"X-Auth-Token": reader})
        assert resp.status == 200
        assert [s["id"] for s in (await resp.json())["servers"]] == ["uid-1"]
        assert resp.headers["OpenStack-API-Version"] == "compute 2.1"
        assert resp.headers["x-openstack-request-id"].startswith("req-")
        body = {"server": {"name": "x", "flavorRef": "m1.small", "imageRef": "nginx:1"}}
        resp = await client.post("/compute/v2.1/servers", json=body, headers={"X-Auth-Token": reader})
        assert resp.status == 403
        assert await resp.json() == {
            "forbidden": {"code": 403, "message": "Policy doesn't allow os_compute_api:servers:create to be performed."}
        }
        assert door.callers["reader-token"].writes == []

    run(t)


def test_a_member_creates_a_server_with_a_kubernetes_name_and_the_nova_name_kept() -> None:
    async def t(client: TestClient[Any, Any], door: FakeDoor) -> None:
        _, _, token = await login(client, "member-token")
        body = {"server": {"name": "Web Server", "flavorRef": "m1.small", "imageRef": "nginx:1"}}
        resp = await client.post("/compute/v2.1/servers", json=body, headers={"X-Auth-Token": token})
        assert resp.status == 202
        out = (await resp.json())["server"]
        assert out["id"] == "uid-0"
        assert out["links"][0]["rel"] == "self"
        ((verb, kind, obj),) = door.callers["member-token"].writes
        assert (verb, kind) == ("create", "servers")
        assert obj["metadata"]["name"].startswith("web-server-")
        assert obj["spec"] == {"flavor": "m1.small", "displayName": "Web Server", "image": "nginx:1"}

    run(t)


def test_novas_faults_for_missing_locked_unknown_and_out_of_range() -> None:
    async def t(client: TestClient[Any, Any], door: FakeDoor) -> None:
        _, _, token = await login(client, "member-token")
        h = {"X-Auth-Token": token}
        resp = await client.get("/compute/v2.1/servers/nope", headers=h)
        assert (resp.status, await resp.json()) == (
            404,
            {"itemNotFound": {"code": 404, "message": "Instance nope could not be found."}},
        )
        resp = await client.post("/compute/v2.1/servers/uid-1/action", json={"os-stop": None}, headers=h)
        assert (resp.status, (await resp.json())["conflictingRequest"]["message"]) == (409, "Instance uid-1 is locked")
        resp = await client.post("/compute/v2.1/servers/uid-1/action", json={"fly": None}, headers=h)
        assert (resp.status, (await resp.json())["badRequest"]["message"]) == (400, "There is no such action: fly")
        resp = await client.get("/compute/v2.1/servers", headers={**h, "OpenStack-API-Version": "compute 2.200"})
        assert (resp.status, next(iter(await resp.json()))) == (406, "computeFault")
        resp = await client.get("/compute/v2.1/os-nothing", headers=h)
        assert (resp.status, next(iter(await resp.json()))) == (404, "itemNotFound")
        resp = await client.get("/compute/v2.1/servers", headers={"X-Auth-Token": "forged"})
        assert resp.status == 401
        resp = await client.get("/compute/v2.1/servers")
        assert resp.status == 401

    run(t)


def test_an_unscoped_token_cannot_use_compute() -> None:
    async def t(client: TestClient[Any, Any], door: FakeDoor) -> None:
        code, body, token = await login(client, "member-token", project=None)
        assert code == 201
        assert "catalog" not in body["token"]
        resp = await client.get("/compute/v2.1/servers", headers={"X-Auth-Token": token})
        assert resp.status == 401

    run(t)


def test_discovery_needs_no_token() -> None:
    async def t(client: TestClient[Any, Any], door: FakeDoor) -> None:
        for path in (
            "/compute/",
            "/compute/v2.1/",
            "/compute/v2/",
            "/identity/",
            "/identity/v3/",
            "/image/",
            "/healthz",
        ):
            resp = await client.get(path)
            assert resp.status in (200, 300), path

    run(t)


def test_every_versions_self_link_answers_with_the_same_self_link() -> None:
    """What tempest's test_get_version_details checks: v2.0 lives at /v2/, as in Nova."""

    async def t(client: TestClient[Any, Any], door: FakeDoor) -> None:
        versions = (await (await client.get("/compute/")).json())["versions"]
        assert [v["id"] for v in versions] == ["v2.0", "v2.1"]
        for v in versions:
            (link,) = [x for x in v["links"] if x["rel"] == "self"]
            resp = await client.get(urlsplit(link["href"]).path)
            assert resp.status == 200, link
            doc = (await resp.json())["version"]
            assert [x for x in doc["links"] if x["rel"] == "self"] == [link]

    run(t)


IMAGES = [
    {
        "metadata": {"name": "cirros", "uid": "img-1", "creationTimestamp": "2026-12-01T09:00:00Z"},
        "spec": {"visibility": "public", "source": {"containerDisk": "quay.io/c:1"}, "minDisk": 1},
        "status": {"id": "img-1", "status": "active"},
    },
    {
        "metadata": {"name": "theirs", "uid": "img-2", "creationTimestamp": "2026-12-01T09:00:00Z"},
        "spec": {"visibility": "private", "owner": "other", "source": {"containerDisk": "quay.io/t:1"}},
        "status": {"id": "img-2"},
    },
]


def test_the_image_api_reads_images_with_glances_visibility() -> None:
    async def t(client: TestClient[Any, Any], door: FakeDoor) -> None:
        door.store["images"] = IMAGES
        door.tokens["reader-token"] = READER | {("list", "images")}
        _, _, token = await login(client, "reader-token")
        h = {"X-Auth-Token": token}
        listed = (await (await client.get("/image/v2/images", headers=h)).json())["images"]
        # The Image the project may see, and the plain reference its server runs.
        assert [i["name"] for i in listed] == ["cirros", "nginx:1.27"]
        assert (listed[0]["min_disk"], listed[0]["visibility"], listed[0]["owner"]) == (1, "public", None)
        one = (await (await client.get("/image/v2/images?name=cirros", headers=h)).json())["images"]
        assert [i["id"] for i in one] == [listed[0]["id"]]
        resp = await client.get("/image/v2/images/img-1", headers=h)  # Glance's id: the uid
        assert (resp.status, (await resp.json())["name"]) == (200, "cirros")
        resp = await client.get("/image/v2/images/img-2", headers=h)  # private to another project
        assert resp.status == 404

    run(t)
