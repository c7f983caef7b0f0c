"""Bad input on the Compute API (issue 15, section 2), property-based with hypothesis, against
``kubenova api`` on the dev cluster with the operator running.

Hypothesis generates requests for the main endpoints: ``POST /servers`` bodies bent from a valid
one (members of the wrong type, missing or extra, huge and unicode names, bad flavorRef,
imageRef, networks, block_device_mapping_v2, security_groups, metadata, user_data, key_name,
availability_zone, counts, hints), ``POST /servers/{id}/action`` with every action name and
malformed arguments, and the writes and reads of flavors, keypairs (malformed public keys),
os-aggregates, os-server-groups, os-quota-sets, os-volume_attachments, server metadata and tags,
``PUT``/``DELETE`` of these; bodies that are not JSON, not an object, nested deeply or binary;
microversion headers (garbage, out of range, served), Content-Types, tokens and paging
parameters. For every answer:

* the status is below 500 (501 is Nova's "not implemented", allowed);
* an error has Nova's shape (``{"badRequest": {"code": 400, "message": "..."}}``, the name Nova
  gives the code; Keystone's ``{"error": ...}`` for a 401), a message, no traceback;
* where Nova's answer is known from the request alone it is that: 400 for a malformed
  microversion, 406 for one out of range, 415 for an unsupported Content-Type, 401 for a bad
  token.

After each property: the API process is alive, its log has no Traceback, and a valid server
create still builds to ACTIVE. ``api fuzz figures: {...}`` prints the requests tried and the
defects found. CI runs a fixed seed (``derandomize``); ``KUBENOVA_FUZZ_EXAMPLES=500`` runs that
many examples per property with a random seed (printed on failure).
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hack.devcluster import computeapi
from hack.devcluster.cluster import Cluster
from kubenova.compute_api import errors, microversions
from tests import fuzz_requests as fr
from tests import waiting
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration

API = "compute.kubenova.io/v1alpha1"
FLAVOR = "it.apifuzz"
CANARY = "it.apifuzz.canary"  # the canaries' flavor, named by no generated request (extra specs could bar hosts)
IMAGE = "docker.io/library/busybox:1.36"
V = "/compute/v2.1"
FUZZ = fr.fuzz_settings(40)
FIGURES: Counter[str] = Counter(examples=0, requests=0, defects=0)
SUPPORTED_TYPES = {"application/json", "application/vnd.openstack.compute+json"}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.raw or b"null")
        except ValueError:
            return None


@dataclass
class Fuzz:
    cluster: Cluster
    api: computeapi.ComputeApi
    namespace: str
    quota_namespace: str
    tokens: dict[str, str]
    server: str = ""
    log_offset: int = 0
    defects: list[str] = field(default_factory=list)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        who: str = "user",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Answer:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = {"X-Auth-Token": self.tokens[who]} if who in self.tokens else {}
        if data is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.api.port, timeout=60)
        try:
            conn.request(method, path, body=data, headers=sent)
            resp = conn.getresponse()
            return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def judge(self, what: str, answer: Answer, *, expect: int | None = None) -> Answer:
        """Count the request; record what is wrong with its answer as a defect."""
        FIGURES["requests"] += 1
        problem = shape_problem(answer)
        if problem is None and expect is not None and answer.status != expect:
            problem = f"answered {answer.status}, Nova answers {expect}: {answer.raw[:300]!r}"
        if problem:
            FIGURES["defects"] += 1
            self.defects.append(f"{what}: {problem}")
        return answer

    def send(self, method: str, path: str, body: Any = None, *, expect: int | None = None, **kw: Any) -> Answer:
        return self.judge(
            f"{method} {path} {json.dumps(body)[:300]}", self.call(method, path, body, **kw), expect=expect
        )


def shape_problem(answer: Answer) -> str | None:
    text = answer.raw.decode(errors="replace")
    if "Traceback" in text:
        return f"a traceback in the answer: {text[:500]}"
    if answer.status >= 500 and answer.status != 501:
        return f"answered {answer.status}: {text[:500]}"
    if answer.status < 400:
        return None
    data = answer.json()
    if not isinstance(data, dict) or len(data) != 1:
        return f"{answer.status} without Nova's error object: {text[:300]}"
    ((name, fault),) = data.items()
    wanted = "error" if answer.status == 401 else errors.FAULT_NAMES.get(answer.status, "computeFault")
    if name != wanted or not isinstance(fault, dict) or fault.get("code") != answer.status:
        return f"{answer.status} as {text[:300]}, Nova names it {wanted!r} with its code"
    if not isinstance(fault.get("message"), str) or not fault["message"].strip():
        return f"{answer.status} without a message: {text[:300]}"
    return None


def keystone_token(api: computeapi.ComputeApi, bearer: str, project: str) -> str:
    auth = {
        "identity": {"methods": ["password"], "password": {"user": {"name": "u", "password": bearer}}},
        "scope": {"project": {"name": project}},
    }
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    conn.request(
        "POST",
        "/identity/v3/auth/tokens",
        body=json.dumps({"auth": auth}),
        headers={"Content-Type": "application/json"},
    )
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 201, resp.status
    token = resp.getheader("X-Subject-Token")
    assert token
    return token


@pytest.fixture(scope="module")
def fz(cluster: Cluster, operator: Any, module_made: Made) -> Iterator[Fuzz]:
    ns, quota_ns = f"apifuzz-{uuid.uuid4().hex[:6]}", f"apifuzz-q-{uuid.uuid4().hex[:6]}"
    for name in (ns, quota_ns):
        cluster.kubectl("create", "namespace", name)
    module_made.apply(computeapi.user_roles(cluster, "apifuzz"))
    module_made.apply(
        [
            {"apiVersion": API, "kind": "Flavor", "metadata": {"name": name}, "spec": {"vcpus": 1, "ram": 128}}
            for name in (FLAVOR, CANARY)
        ]
    )
    before = {kind: set(names(cluster, kind)) for kind in ("flavors", "aggregates")}
    api = computeapi.start(cluster, name="compute-api-fuzz")
    binding = f"apifuzz-admin-{ns}"
    cluster.kubectl("create", "serviceaccount", "admin", "-n", ns)
    cluster.kubectl(
        "create", "clusterrolebinding", binding, "--clusterrole=cluster-admin", f"--serviceaccount={ns}:admin"
    )
    module_made.track("clusterrolebinding", binding)
    admin = cluster.kubectl("create", "token", "admin", "-n", ns, "--duration=1h").stdout.strip()
    user = computeapi.account(cluster, ns, "fuzzer", "edit")
    tokens = {"user": keystone_token(api, user, ns), "admin": keystone_token(api, admin, ns)}
    run = Fuzz(cluster, api, ns, quota_ns, tokens)
    run.server = build_server(run, "fuzz target")
    try:
        yield run
    finally:
        api.stop()
        # Not waited for (as the namespace fixture's): the large size leaves hundreds of objects.
        cluster.kubectl("delete", "namespace", ns, quota_ns, "--wait=false", check=False)
        print(f"api fuzz figures: {dict(FIGURES)}")
        for kind, old in before.items():  # what the fuzzing made through the API as admin
            new = sorted(set(names(cluster, kind)) - old)
            if new:
                cluster.kubectl("delete", kind, *new, "--ignore-not-found", "--wait=false", check=False)


def names(cluster: Cluster, kind: str) -> list[str]:
    return [o["metadata"]["name"] for o in cluster.get_json(kind)["items"]]


def build_server(run: Fuzz, name: str) -> str:
    """A valid create through the API, built to ACTIVE; its id."""
    body = {"server": {"name": name, "flavorRef": CANARY, "imageRef": IMAGE, "networks": "auto"}}
    answer = run.call("POST", f"{V}/servers", body, headers={"OpenStack-API-Version": "compute 2.37"})
    assert answer.status == 202, answer.raw
    ident = str(answer.json()["server"]["id"])

    def active() -> bool | None:
        s = run.call("GET", f"{V}/servers/{ident}").json()["server"]
        assert s["status"] != "ERROR", s.get("fault")
        return True if s["status"] == "ACTIVE" and not s.get("OS-EXT-STS:task_state") else None

    waiting.until(active, timeout=90, what=f"server {name} ACTIVE")
    return ident


def healthy(run: Fuzz) -> None:
    """The API answered without a defect, is alive, logged no traceback, and still builds a server."""
    assert run.api.popen is not None
    assert run.api.popen.poll() is None, "kubenova api exited:\n" + run.api.tail()
    log = run.api.log.read_text(errors="replace")[run.log_offset :]
    tracebacks = log.count("Traceback")
    run.log_offset += len(log)
    defects, run.defects[:] = list(run.defects), []
    assert not defects, f"{len(defects)} defects:\n" + "\n".join(d[:600] for d in defects[:25])
    assert not tracebacks, "kubenova api logged a Traceback:\n" + log[log.index("Traceback") - 300 :][:4000]
    ident = build_server(run, f"canary {uuid.uuid4().hex[:4]}")
    assert run.call("DELETE", f"{V}/servers/{ident}").status == 204


def seg(value: str) -> str:
    return urllib.parse.quote(value, safe="")


# --- the properties ----------------------------------------------------------------------------


def test_server_create_bodies(fz: Fuzz) -> None:
    @FUZZ
    @given(body=fr.server_bodies(FLAVOR, IMAGE), version=st.one_of(st.none(), st.sampled_from(fr.SERVED)))
    def one(body: Any, version: str | None) -> None:
        FIGURES["examples"] += 1
        answer = fz.send("POST", f"{V}/servers", body, headers=fr.version_headers(version, modern=True))
        if answer.status == 202:  # a body that was valid: gone again, so the project stays small
            FIGURES["servers created"] += 1
            fz.send("DELETE", f"{V}/servers/{answer.json()['server']['id']}")

    one()
    healthy(fz)


def test_server_actions(fz: Fuzz) -> None:
    @FUZZ
    @given(body=fr.action_bodies(), version=st.one_of(st.none(), st.sampled_from(fr.SERVED)), real=st.integers(0, 5))
    def one(body: Any, version: str | None, real: int) -> None:
        FIGURES["examples"] += 1
        ident = fz.server if real else str(uuid.uuid4())
        fz.send("POST", f"{V}/servers/{ident}/action", body, headers=fr.version_headers(version, modern=False))

    one()
    healthy(fz)


def keyed(name: str, valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    """``{name: valid}`` with ``valid`` bent, or anything at all."""
    bent = fr.bent(valid, dict.fromkeys(valid, fr.json_values))
    return st.one_of(st.builds(lambda b: {name: b}, bent), fr.json_values)


NO_BODY = st.none()
GROUP = {"name": "fz", "policy": "anti-affinity", "policies": ["affinity"], "rules": {"max_server_per_host": 1}}
QUOTA = {"instances": 5, "cores": 5, "ram": 1024, "key_pairs": 5, "server_groups": 5, "metadata_items": 5}
AGGREGATE = {"name": "fz", "availability_zone": "fz-zone"}
SERVER_UPDATE = {"name": "n", "description": "d", "accessIPv4": "10.0.0.1", "hostname": "h"}
FLAVOR_CREATE = {"name": "fz", "ram": 128, "vcpus": 1, "disk": 0, "id": "fz", "os-flavor-access:is_public": True}
AGGREGATE_ACTIONS = st.builds(
    lambda k, v: {k: v}, st.sampled_from(["add_host", "remove_host", "set_metadata"]), fr.json_values
)
TAGS = st.one_of(st.lists(fr.texts, max_size=4), fr.json_values).map(lambda t: {"tags": t})
# (methods, path: {i} an id, {k} a key or name, {s} a server, {p} a project; body; whose token)
ENDPOINTS: list[tuple[list[str], str, st.SearchStrategy[Any], str]] = [
    (["POST"], "/flavors", keyed("flavor", FLAVOR_CREATE), "admin"),
    (["PUT"], "/flavors/{i}", keyed("flavor", {"description": "d"}), "admin"),
    (["DELETE"], "/flavors/{i}-fz", NO_BODY, "admin"),
    (["POST"], "/flavors/{i}/os-extra_specs", keyed("extra_specs", {"a": "b"}), "admin"),
    (["PUT", "DELETE"], "/flavors/{i}/os-extra_specs/{k}", fr.json_values, "admin"),
    (["POST"], "/flavors/{i}/action", keyed("addTenantAccess", {"tenant": "t"}), "admin"),
    (["POST"], "/os-keypairs", fr.keypair_bodies(), "user"),
    (["GET", "DELETE"], "/os-keypairs/{k}", NO_BODY, "user"),
    (["POST"], "/os-server-groups", keyed("server_group", GROUP), "user"),
    (["GET", "DELETE"], "/os-server-groups/{i}", NO_BODY, "user"),
    (["PUT"], "/os-quota-sets/{p}", keyed("quota_set", QUOTA), "admin"),
    (["GET"], "/os-quota-sets/{p}", NO_BODY, "user"),
    (["POST"], "/os-aggregates", keyed("aggregate", AGGREGATE), "admin"),
    (["PUT", "DELETE", "GET"], "/os-aggregates/{i}", keyed("aggregate", AGGREGATE), "admin"),
    (["POST"], "/os-aggregates/{i}/action", st.one_of(AGGREGATE_ACTIONS, fr.json_values), "admin"),
    (["POST", "GET"], "/servers/{s}/os-volume_attachments", keyed("volumeAttachment", {"volumeId": "v"}), "user"),
    (["PUT", "DELETE"], "/servers/{s}/os-volume_attachments/{k}", fr.json_values, "user"),
    (["PUT", "POST"], "/servers/{s}/metadata", keyed("metadata", {"a": "b"}), "user"),
    (["PUT", "GET", "DELETE"], "/servers/{s}/metadata/{k}", keyed("meta", {"a": "b"}), "user"),
    (["PUT", "DELETE"], "/servers/{s}/tags", TAGS, "user"),
    (["PUT", "DELETE"], "/servers/{s}/tags/{k}", NO_BODY, "user"),
    (["PUT"], "/servers/{s}", keyed("server", SERVER_UPDATE), "user"),
    (["POST"], "/servers/{s}/remote-consoles", keyed("remote_console", {"protocol": "vnc", "type": "novnc"}), "user"),
]


@st.composite
def endpoint_requests(draw: st.DrawFn, run: Fuzz) -> tuple[str, str, Any, str]:
    """(method, path, body, who) for the writes and reads of the other resources."""
    methods, template, body, who = draw(st.sampled_from(ENDPOINTS))
    ident = draw(st.one_of(st.sampled_from([run.server, FLAVOR, "1", "0", run.namespace]), fr.texts.filter(bool)))
    key = draw(st.one_of(st.sampled_from(["a", "x" * 256]), fr.texts.filter(bool)))
    server = run.server if draw(st.integers(0, 3)) else ident
    # Not the fuzzing's own namespace: a quota of 0 there would (rightly) fail the canary.
    project = run.quota_namespace if draw(st.booleans()) else ident.replace(run.namespace, run.quota_namespace)
    path = template.format(i=seg(ident), k=seg(key), s=seg(server), p=seg(project))
    method = draw(st.sampled_from(methods))
    return method, V + path, None if method in ("GET", "DELETE") else draw(body), who


def test_other_endpoints(fz: Fuzz) -> None:
    @FUZZ
    @given(data=st.data(), version=st.one_of(st.none(), st.sampled_from(fr.SERVED)))
    def one(data: st.DataObject, version: str | None) -> None:
        FIGURES["examples"] += 1
        method, path, body, who = data.draw(endpoint_requests(fz))
        fz.send(
            method,
            path,
            body,
            who=who,
            headers=fr.version_headers(version, modern=True),
        )

    one()
    healthy(fz)


LISTS = ["/servers", "/servers/detail", "/flavors", "/flavors/detail", "/os-keypairs", "/os-hypervisors",
         "/os-hypervisors/detail", "/os-migrations", "/os-server-groups", "/os-aggregates", "/os-simple-tenant-usage",
         "/os-services", "/os-availability-zone", "/limits", "/servers/{s}/os-instance-actions"]  # fmt: skip
paging = st.dictionaries(
    st.sampled_from(
        ["limit", "marker", "name", "status", "changes-since", "all_tenants", "detailed", "start", "sort_key", "x"]
    ),
    st.one_of(st.sampled_from(["-1", "0", "1", "abc", "1.5", "", "99999999999999999999", "2026-13-45"]), fr.texts),
    max_size=3,
)


def test_listing_parameters(fz: Fuzz) -> None:
    @FUZZ
    @given(path=st.sampled_from(LISTS), query=paging, who=st.sampled_from(["user", "admin"]))
    def one(path: str, query: dict[str, str], who: str) -> None:
        FIGURES["examples"] += 1
        fz.send("GET", f"{V}{path.format(s=fz.server)}?{urllib.parse.urlencode(query)}", who=who)

    one()
    at = {"OpenStack-API-Version": "compute 2.35"}  # keypairs page from 2.35
    for path in ("/servers", "/flavors", "/os-keypairs", "/os-hypervisors"):  # Nova's answers to bad paging
        fz.send("GET", f"{V}{path}?limit=-1", expect=400, headers=at, who="admin")
        fz.send("GET", f"{V}{path}?limit=x", expect=400, headers=at, who="admin")
        fz.send("GET", f"{V}{path}?marker={uuid.uuid4()}", expect=400, headers=at, who="admin")
    healthy(fz)


BODY_PATHS = [("POST", "/servers"), ("POST", "/servers/{s}/action"), ("PUT", "/servers/{s}"), ("POST", "/os-keypairs"),
              ("PUT", "/servers/{s}/metadata"), ("POST", "/os-server-groups"), ("PUT", "/os-quota-sets/{q}"),
              ("POST", "/os-aggregates"), ("POST", "/flavors"), ("PUT", "/servers/{s}/tags")]  # fmt: skip


def test_malformed_bodies_and_content_types(fz: Fuzz) -> None:
    @FUZZ
    @given(where=st.sampled_from(BODY_PATHS), raw=fr.raw_bodies, ctype=st.one_of(st.none(), fr.content_types))
    def one(where: tuple[str, str], raw: bytes, ctype: str | None) -> None:
        FIGURES["examples"] += 1
        method, path = where
        headers = {} if ctype is None else {"Content-Type": ctype}
        media = (ctype or "").split(";")[0].strip().lower()
        expect = 415 if media not in SUPPORTED_TYPES | {"", "text/plain"} else None
        url = f"{V}{path.format(s=fz.server, q=fz.quota_namespace)}"
        answer = fz.judge(
            f"{method} {url} {raw[:200]!r} as {ctype!r}",
            fz.call(method, url, raw=raw, who="admin", headers=headers),
            expect=expect,
        )
        if expect is None and answer.status < 300 and method == "POST" and path == "/servers":
            pytest.fail(f"a malformed body made a server: {raw[:200]!r}")

    one()
    huge = b'{"server": {"name": "' + b"x" * (2 * 1024 * 1024) + b'"}}'
    fz.judge("POST /servers 2 MiB", fz.call("POST", f"{V}/servers", raw=huge), expect=413)
    healthy(fz)


def test_microversions_and_tokens(fz: Fuzz) -> None:
    @FUZZ
    @given(headers=fr.version_header_sets(), path=st.sampled_from(["/servers", "/flavors", "/servers/{s}"]))
    def one(headers: dict[str, str], path: str) -> None:
        FIGURES["examples"] += 1
        code, wanted = fr.nova_version_answer(headers, microversions.MIN, microversions.MAX)
        url = f"{V}{path.format(s=fz.server)}"
        answer = fz.judge(f"GET {url} with {headers!r}", fz.call("GET", url, headers=headers), expect=code)
        value = headers
        if code == 200 and answer.headers.get("openstack-api-version") != f"compute {wanted}":
            fz.defects.append(
                f"GET {url} at {value!r}: version {answer.headers.get('openstack-api-version')!r}, not {wanted}"
            )

    @FUZZ
    @given(token=st.one_of(fr.header_texts, st.just(fz.tokens["user"][:-3] + "abc")), path=st.sampled_from(LISTS[:6]))
    def bad_token(token: str, path: str) -> None:
        FIGURES["examples"] += 1
        headers = {"X-Auth-Token": token} if token.strip() else {}
        url = f"{V}{path.format(s=fz.server)}"
        fz.judge(f"GET {url} with token {token[:40]!r}", fz.call("GET", url, who="nobody", headers=headers), expect=401)

    one()
    bad_token()
    answer = fz.send("GET", f"{V}/servers", headers={"X-OpenStack-Nova-API-Version": "2.0"}, expect=406)
    assert "Version 2.0 is not supported by the API" in answer.raw.decode()
    assert f"maximum is {microversions.MAX}" in answer.raw.decode()
    healthy(fz)


NESTED = b"[" * 100_000 + b"]" * 100_000
REGRESSIONS: list[tuple[str, str, bytes, dict[str, str], str, int, str]] = [
    # (method, path, raw body, headers, whose token, Nova's code, words in its message): what the
    # fuzzing found answering 500 (or not as Nova), fixed in compute_api/.
    ("POST", "/servers", NESTED, {}, "user", 400, "Malformed request body"),  # RecursionError
    ("POST", "/servers", b'{"server": NaN}', {}, "user", 400, "Malformed request body"),
    ("PUT", "/os-quota-sets/{q}", b'{"quota_set": {"cores": Infinity}}', {}, "admin", 400, "Malformed request body"),
    ("POST", "/servers", b"{}", {"Content-Type": "application/xml"}, "user", 415, "Unsupported Content-Type"),
    ("GET", "/servers", b"", {"X-OpenStack-Nova-API-Version": "2.01"}, "user", 400, "is of invalid format"),
    ("GET", "/flavors?limit=-1", b"", {}, "user", 400, "Invalid input for query parameters limit"),
    ("GET", "/os-server-groups?limit=x", b"", {}, "user", 400, "Invalid input for query parameters limit"),
    ("POST", "/servers", b'{"server": {"name": "x", "flavorRef": "f", "min_count": "\\u00b2"}}', {}, "user", 400,
     "Invalid input for field/attribute min_count"),
    ("POST", "/os-server-groups", b'{"server_group": {"name": "g", "policies": ["affinity"], "rules": [0]}}', {},
     "user", 400, "Invalid input for field/attribute rules"),
    ("PUT", "/os-quota-sets/{q}", b'{"quota_set": {"cores": "many"}}', {}, "admin", 400,
     "Invalid input for field/attribute cores"),
    ("PUT", "/servers/{s}/metadata", b'{"metadata": {"a": 1}}', {}, "user", 400, "Invalid input for field/attribute"),
    ("PUT", "/os-quota-sets/%00", b'{"quota_set": {"cores": 5}}', {}, "admin", 404, "could not be found"),  # NUL
    ("PUT", "/os-quota-sets/Not_A_Namespace", b'{"quota_set": {"cores": 5}}', {}, "admin", 400,
     "is not a valid project"),
    ("POST", "/servers/{s}/remote-consoles", b'{"remote_console": {"protocol": {}, "type": "novnc"}}',
     {"OpenStack-API-Version": "compute 2.6"}, "user", 400, "Invalid input for field/attribute protocol"),
]  # fmt: skip


def test_what_the_fuzzing_found_is_nova_s_answer(fz: Fuzz) -> None:
    for method, path, raw, headers, who, code, words in REGRESSIONS:
        url = V + path.format(s=fz.server, q=fz.quota_namespace)
        answer = fz.judge(
            f"{method} {url} {raw[:80]!r}", fz.call(method, url, raw=raw or None, who=who, headers=headers)
        )
        assert answer.status == code, (method, path, raw[:80], answer.raw)
        assert words in answer.json()[errors.FAULT_NAMES[code]]["message"], answer.raw
    healthy(fz)
