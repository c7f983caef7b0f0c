"""Bad input on the real API server (issue 15, section 2), property-based with hypothesis.

Hypothesis generates batches of Server, Flavor, Keypair, Quota, Aggregate, ServerGroup and
ServerAction objects, valid and invalid (malformed public keys, user data at and past 65535,
non-base64 user data, unicode and over-long names, metadata and tags at and past Nova's limits,
references to objects that do not exist). Each batch is created at once (``kubectl create``, in
parallel), then waited for as a whole. Invariants:

* each object is either refused at create with a message (not empty, no Python traceback, no
  internal error), or accepted and settles within a bound: Servers ACTIVE (or the state their
  spec asks for) or ERROR with a fault; Keypairs and the other kinds Ready, or not Ready with a
  message (Keypairs: a fault); ServerActions Succeeded, or Failed with a message;
* the operator never crashes (its process is alive, its log gains no Traceback), never wedges
  (a valid Server made after each batch still builds to ACTIVE), and never writes a spec
  (``metadata.generation`` stays 1 and only the user's field manager owns ``spec``).

Also: references to objects deleted just before or after a Server names them, and two writers
changing one Server's ``spec.state`` at once.

CI runs a fixed seed (``derandomize``) and a few batches; ``KUBENOVA_FUZZ_EXAMPLES=500`` runs
about that many generated objects (in batches of :data:`BATCH`), with a random seed that
hypothesis prints on failure. Every cluster-scoped object made here is deleted.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import string
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from tests import waiting

pytestmark = pytest.mark.integration

API = "compute.kubenova.io/v1alpha1"
MANAGER = "fuzz-user"
BATCH = 25
LARGE = int(os.environ.get("KUBENOVA_FUZZ_EXAMPLES", "0"))
BATCHES = max(1, -(-LARGE // BATCH)) if LARGE else 5
SETTLE = 150.0 if LARGE else 90.0
FUZZ = settings(
    max_examples=BATCHES,
    derandomize=not LARGE,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a cluster round-trip per step is too slow
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
USER_DATA_MAX = 65535
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDNb5XS3vjRtgp7HmaQF/sOn2Ecpt1Tx4TqKYO4NVb5x bob"
STATES = {
    "active": "ACTIVE",
    "stopped": "SHUTOFF",
    "paused": "PAUSED",
    "suspended": "SUSPENDED",
    "shelved": "SHELVED",
    "shelved_offloaded": "SHELVED_OFFLOADED",
}
CLUSTER_SCOPED = {"Flavor", "Aggregate"}
FIGURES: dict[str, int] = {"tried": 0, "refused": 0, "accepted": 0, "defects": 0}


# --- the run's plumbing ---------------------------------------------------------------------


@dataclass
class Run:
    cluster: Cluster
    operator: Operator
    flavor: str
    token: str
    log_offset: int = 0
    made: list[tuple[str, str, str | None]] = field(default_factory=list)  # kind, name, namespace


def kubectl_create(cluster: Cluster, obj: dict[str, Any]) -> tuple[int, str]:
    proc = cluster.kubectl(
        "create", f"--field-manager={MANAGER}", "-o", "name", "-f", "-", input=json.dumps(obj), check=False
    )
    return proc.returncode, proc.stderr


def listed(cluster: Cluster, kind: str, namespace: str | None) -> dict[str, dict[str, Any]]:
    args = ["get", kind.lower(), "-o", "json"] + (["-n", namespace] if namespace else [])
    return {o["metadata"]["name"]: o for o in json.loads(cluster.kubectl(*args).stdout)["items"]}


def ready(obj: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in obj.get("status", {}).get("conditions") or [] if c.get("type") == "Ready"), None)


def settled(obj: dict[str, Any]) -> str | None:
    """None while the object is still on its way; else how it ended ("ok" or the problem)."""
    kind, spec, status = obj["kind"], obj.get("spec", {}), obj.get("status") or {}
    if kind == "Server":
        if status.get("vmState") == "error":
            return "ok" if (status.get("fault") or {}).get("message") else "ERROR without a fault"
        wanted = STATES.get(spec.get("state", "active"))
        if status.get("status") == wanted and status.get("taskState") is None:
            return "ok"
        return None
    if kind == "ServerAction":
        if status.get("phase") == "Succeeded":
            return "ok"
        if status.get("phase") == "Failed":
            return "ok" if status.get("message") or (status.get("fault") or {}).get("message") else "Failed, no message"
        return None
    cond = ready(obj)
    if cond is None or status.get("observedGeneration") != obj["metadata"]["generation"]:
        return None
    if cond["status"] == "True":
        return "ok"
    if kind == "Keypair" and not (status.get("fault") or {}).get("message"):
        return "Keypair not Ready without a fault"
    return "ok" if cond.get("message") else "not Ready without a message"


def spec_owners(obj: dict[str, Any]) -> set[str]:
    return {m["manager"] for m in obj["metadata"].get("managedFields") or [] if "f:spec" in (m.get("fieldsV1") or {})}


def check_refusal(stderr: str) -> str | None:
    text = stderr.strip()
    if not text:
        return "refused without a message"
    for bad in ("Traceback", "Internal error", "InternalError", "internal error", "panic"):
        if bad in text:
            return f"refused with {bad!r}: {text[:500]}"
    return None


def operator_problems(run: Run) -> list[str]:
    problems = []
    if run.operator.popen is None or run.operator.popen.poll() is not None:
        problems.append("the operator exited")
    log = run.operator.log.read_text(errors="replace")[run.log_offset :]
    if "Traceback" in log:
        at = log.index("Traceback")
        problems.append("the operator logged a Traceback:\n" + log[max(0, at - 300) : at + 3000])
    return problems


def canary(run: Run, namespace: str) -> None:
    """A valid Server made after the batch still builds: the operator is not wedged."""
    name = f"canary-{uuid.uuid4().hex[:6]}"
    body = server_obj(name, namespace, {"flavor": run.flavor, "image": "nginx:1.27", "backend": "container"})
    code, err = kubectl_create(run.cluster, body)
    assert code == 0, err

    def active() -> bool:
        s = listed(run.cluster, "Server", namespace).get(name, {}).get("status") or {}
        return s.get("status") == "ACTIVE" and s.get("taskState") is None

    waiting.until(active, timeout=60, what=f"canary {name} ACTIVE (the operator is wedged?)")


def server_obj(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Server", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


# --- strategies -----------------------------------------------------------------------------

LOWER = string.ascii_lowercase + string.digits


def dns(max_size: int = 20) -> st.SearchStrategy[str]:
    return st.text(LOWER, min_size=1, max_size=max_size)


# A name: usually valid (the example's index keeps it unique), else unicode, upper case, over
# 253 characters, a dot or a dash at an end, empty.
bad_names = st.one_of(
    st.text(min_size=1, max_size=30),
    st.just("x" * 254),
    st.just("UPPER"),
    st.just("-dash"),
    st.just("dot."),
    st.just("ünïcødé"),
    st.just(""),
)


@st.composite
def names(draw: st.DrawFn) -> tuple[str, bool]:
    """(the name's body, whether it is valid); a valid one is prefixed later to be unique."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(bad_names), False
    if choice == 1:
        return draw(st.sampled_from(["a" * 200, "b" * 63, "c" * 64])), True  # long, valid subdomain
    return draw(dns()), True


b64 = st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())
public_keys = st.one_of(
    st.just(ED25519),
    st.integers(1, len(ED25519) - 1).map(lambda n: ED25519[:n]),  # truncated
    st.builds(lambda t: f"{t} {ED25519.split()[1]}", st.sampled_from(["ssh-rsa", "ssh-dss", "x509", "ecdsa"])),
    st.builds(lambda b: f"ssh-rsa {b}", b64),
    st.binary(min_size=1, max_size=300).map(lambda b: b.replace(b"\x00", b"").decode("latin-1") or "x"),  # binary
    st.just("ssh-rsa " + "A" * 16000),  # huge, at the 16384 limit
    st.just("ssh-rsa " + "A" * 16400),  # past it
    st.binary(max_size=200).map(
        lambda b: "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(b).decode() + "-----END CERTIFICATE-----\n"
    ),
    st.text(min_size=1, max_size=200),
)


@st.composite
def user_data(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 4))
    if kind == 0:  # at the limit: 65535 encoded characters is not a multiple of 4, so 65532
        return base64.b64encode(b"#" * (USER_DATA_MAX // 4 * 3)).decode()
    if kind == 1:  # past it
        return base64.b64encode(b"#" * (USER_DATA_MAX // 4 * 3 + 3)).decode()
    if kind == 2:
        return draw(st.text(min_size=1, max_size=100))  # not base64 (mostly)
    return draw(b64)


tags = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=61)
metadata = st.one_of(
    st.dictionaries(st.text(max_size=256), st.text(max_size=256), max_size=5),
    st.integers(126, 130).map(lambda n: {f"k{i}": "v" * 255 for i in range(n)}),  # at the metadata_items quota
    st.just({"k" * 255: "v" * 255, "k" * 256: "v"}),
)


@st.composite
def server_spec(draw: st.DrawFn, flavor: str, keypair: str, peers: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "flavor": draw(st.sampled_from([flavor, flavor, flavor, "no-such-flavor", "Bad_Flavor"])),
        "backend": draw(st.sampled_from(["container", "container", "kubevirt", "vmware"])),
    }
    if draw(st.integers(0, 9)):
        spec["image"] = draw(st.sampled_from(["nginx:1.27", "busybox", "", "x" * 1025]))
    optional: dict[str, st.SearchStrategy[Any]] = {
        "keyName": st.sampled_from([keypair, "no-such-key", "Bad Key"]),
        "userData": user_data(),
        "metadata": metadata,
        "tags": st.lists(tags, max_size=51),
        "hostname": st.sampled_from(["web", "Web", "a" * 63, "a" * 64, "-x"]),
        "description": st.text(max_size=256),
        "state": st.sampled_from([*STATES, "deleted", "ACTIVE"]),
        "availabilityZone": st.sampled_from(["zone-a", "nowhere", "internal", "zone-a:compute-0"]),
        "locked": st.booleans(),
        "lockedReason": st.text(max_size=256),
        "schedulerHints": st.fixed_dictionaries(
            {},
            optional={
                "group": st.sampled_from(["no-such-group", *peers[:1]]),
                "differentHost": st.lists(st.sampled_from([*peers, "ghost"]), max_size=3),
            },
        ),
        "configDrive": st.booleans(),
    }
    for key, strategy in optional.items():
        if draw(st.integers(0, 3)) == 0:
            spec[key] = draw(strategy)
    return spec


def flavor_spec() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"vcpus": st.integers(-1, 5000), "ram": st.integers(-1, 70_000_000)},
        optional={
            "disk": st.integers(-1, 2_000_000),
            "isPublic": st.booleans(),
            "access": st.lists(st.sampled_from(["team-a", "Bad_NS", ""]), max_size=3),
            "extraSpecs": st.dictionaries(
                st.sampled_from(["kubenova:backend", "hw:cpu_policy", "k" * 300, ""]),
                st.sampled_from(["container", "kubevirt", "dedicated", "nonsense", "v" * 300]),
                max_size=3,
            ),
            "description": st.text(max_size=300),
            "rxtxFactor": st.sampled_from([0, -1, 0.5, 1.0]),
        },
    )


keypair_spec = st.fixed_dictionaries(
    {}, optional={"publicKey": public_keys, "type": st.sampled_from(["ssh", "x509", "rsa", ""])}
)
quota_spec = st.dictionaries(
    st.sampled_from(["instances", "cores", "ram", "keyPairs", "metadataItems", "serverGroups", "unknown"]),
    st.sampled_from([-2, -1, 0, 1, 128, 1000]),
    max_size=4,
)
aggregate_spec = st.fixed_dictionaries(
    {},
    optional={
        "hosts": st.lists(st.sampled_from(["ghost-host", "compute-2", "Bad_Host"]), max_size=3, unique=True),
        "availabilityZone": st.sampled_from(["fuzz-zone", "internal", "a:b", ""]),
        "metadata": st.dictionaries(st.sampled_from(["ssd", "availability_zone", "k" * 300]), st.text(max_size=20)),
    },
)
group_spec = st.fixed_dictionaries(
    {"policy": st.sampled_from(["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity", "random"])},
    optional={"maxServerPerHost": st.integers(-1, 1001)},
)


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[str, str, bool, dict[str, Any]]]:
    """BATCH objects: (kind, name body, name valid, spec); Servers refer to the batch's others."""
    out = []
    kinds = draw(
        st.lists(
            st.sampled_from(["Server"] * 4 + ["Keypair"] * 2 + ["Flavor", "Quota", "Aggregate", "ServerGroup"])
            | st.just("ServerAction"),
            min_size=BATCH,
            max_size=BATCH,
        )
    )
    for i, kind in enumerate(kinds):
        body, valid = draw(names())
        body = f"{i}-{body}" if valid else body
        if kind == "Server":
            spec = draw(server_spec("{flavor}", "{keypair}", ["{peer}"]))
        elif kind == "Keypair":
            spec = draw(keypair_spec)
        elif kind == "Flavor":
            spec = draw(flavor_spec())
        elif kind == "Quota":
            body, valid, spec = "default", True, draw(quota_spec)
        elif kind == "Aggregate":
            spec = draw(aggregate_spec)
        elif kind == "ServerGroup":
            spec = draw(group_spec)
        else:
            spec = draw(
                st.fixed_dictionaries(
                    {
                        "server": st.sampled_from(["{peer}", "ghost"]),
                        "action": st.sampled_from(["reboot", "migrate", "confirmResize", "explode"]),
                    },
                    optional={
                        "type": st.sampled_from(["SOFT", "HARD", "MEDIUM"]),
                        "host": st.sampled_from(["compute-1"]),
                    },
                )
            )
        out.append((kind, body, valid, spec))
    return out


def fill(value: Any, names: dict[str, str]) -> Any:
    """Put the run's real names into the placeholders of a generated spec."""
    if isinstance(value, str) and value in names:
        return names[value]
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(cluster: Cluster, operator: Operator) -> Iterator[Run]:
    token = uuid.uuid4().hex[:5]
    flavor = f"fuzz-{token}"
    cluster.apply(
        [{"apiVersion": API, "kind": "Flavor", "metadata": {"name": flavor}, "spec": {"vcpus": 1, "ram": 64}}]
    )
    r = Run(cluster, operator, flavor, token, log_offset=len(operator.log.read_text(errors="replace")))
    yield r
    for kind, name, _namespace in reversed(r.made):
        if kind in CLUSTER_SCOPED:
            cluster.kubectl("delete", kind.lower(), name, "--wait=false", check=False)
    cluster.kubectl("delete", "flavor", flavor, "--wait=false", check=False)
    if ns := _CANARY_NS.pop(token, None):
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)
    print(f"\nfuzz figures: {FIGURES}")


def new_namespace(r: Run) -> str:
    ns = f"fz-{r.token}-{uuid.uuid4().hex[:6]}"
    r.cluster.kubectl("create", "namespace", ns)
    return ns


# --- the properties -------------------------------------------------------------------------


@pytest.mark.timeout(120 + BATCHES * (SETTLE + 90))  # pytest-timeout's 300 s would cut the large size short
@FUZZ
@given(batch=batches())
def test_generated_objects_are_refused_with_a_message_or_settle(run: Run, batch: list[Any]) -> None:
    ns = new_namespace(run)
    started = time.monotonic()
    try:
        keypair = f"fuzz-key-{uuid.uuid4().hex[:4]}"
        peer = f"fuzz-peer-{uuid.uuid4().hex[:4]}"
        assert kubectl_create(run.cluster, keypair_obj(keypair, ns, {"publicKey": ED25519}))[0] == 0
        spec = {"flavor": run.flavor, "image": "nginx:1.27", "backend": "container"}
        assert kubectl_create(run.cluster, server_obj(peer, ns, spec))[0] == 0
        placeholders = {"{flavor}": run.flavor, "{keypair}": keypair, "{peer}": peer}
        objects = []
        for kind, body, valid, spec in batch:
            name = f"fz{run.token}-{body}"[:253] if valid and kind in CLUSTER_SCOPED else body
            meta: dict[str, Any] = {"name": name} | ({} if kind in CLUSTER_SCOPED else {"namespace": ns})
            objects.append({"apiVersion": API, "kind": kind, "metadata": meta, "spec": fill(spec, placeholders)})
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda o: kubectl_create(run.cluster, o), objects))
        problems: list[str] = []
        accepted: list[dict[str, Any]] = []
        for obj, (code, stderr) in zip(objects, results, strict=True):
            FIGURES["tried"] += 1
            if code == 0:
                FIGURES["accepted"] += 1
                accepted.append(obj)
                run.made.append((obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace")))
            else:
                FIGURES["refused"] += 1
                if os.environ.get("KUBENOVA_FUZZ_VERBOSE"):
                    print(f"refused {obj['kind']}: {stderr.strip()[-300:]}")
                if p := check_refusal(stderr):
                    problems.append(f"{obj['kind']} {obj['metadata']['name'][:60]!r}: {p}")
        outcome, late = wait_settled(run, ns, accepted)
        problems += late
        for (kind, name), obj in sorted(outcome.items()):
            how = settled(obj)
            if how != "ok":
                problems.append(f"{kind} {name[:60]!r}: {how}: {json.dumps(obj.get('status'))[:600]}")
            if obj["metadata"]["generation"] != 1:
                problems.append(f"{kind} {name[:60]!r}: generation {obj['metadata']['generation']}: spec was written")
            if owners := spec_owners(obj) - {MANAGER}:
                problems.append(f"{kind} {name[:60]!r}: spec owned by {sorted(owners)}")
        # Delete the batch's cluster-scoped objects now: an Aggregate must not steer later batches.
        for obj in accepted:
            if obj["kind"] in CLUSTER_SCOPED:
                run.cluster.kubectl("delete", obj["kind"].lower(), obj["metadata"]["name"], check=False)
        canary(run, new_namespace_for_canary(run))
        problems += operator_problems(run)
        if problems:
            FIGURES["defects"] += 1
        assert not problems, "\n".join(problems)
    finally:
        unlock_all(run.cluster, ns)
        run.cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)
        print(f"batch of {len(batch)} in {time.monotonic() - started:.1f}s; {FIGURES}")


def wait_settled(
    run: Run, ns: str, accepted: list[dict[str, Any]]
) -> tuple[dict[tuple[str, str], dict[str, Any]], list[str]]:
    """Wait for every accepted object at once (one list per kind per poll); those late, as problems."""
    problems: list[str] = []
    pending = {(o["kind"], o["metadata"]["name"]) for o in accepted}
    outcome: dict[tuple[str, str], dict[str, Any]] = {}
    deadline = time.monotonic() + SETTLE
    while pending and time.monotonic() < deadline:
        for kind in sorted({k for k, _ in pending}):
            items = listed(run.cluster, kind, None if kind in CLUSTER_SCOPED else ns)
            for k, name in list(pending):
                if k == kind and name in items and settled(items[name]) is not None:
                    outcome[(k, name)] = items[name]
                    pending.discard((k, name))
        if pending:
            time.sleep(1)
    if pending:
        last = {**listed(run.cluster, "Server", ns), **listed(run.cluster, "Keypair", ns)}
        problems += [
            f"{k} {n[:60]!r} did not settle in {SETTLE:.0f}s: {json.dumps((last.get(n) or {}).get('status'))[:1500]}"
            for k, n in sorted(pending)
        ]
    return outcome, problems


def unlock_all(cluster: Cluster, namespace: str) -> None:
    """A locked Server refuses delete (Nova's lock), which would keep the namespace forever."""
    for name, obj in listed(cluster, "Server", namespace).items():
        if obj["spec"].get("locked"):
            patch = json.dumps({"spec": {"locked": False, "lockedReason": None}})
            cluster.kubectl("patch", "server", name, "-n", namespace, "--type=merge", "-p", patch, check=False)


def keypair_obj(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Keypair", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


_CANARY_NS: dict[str, str] = {}


def new_namespace_for_canary(r: Run) -> str:
    """One namespace for every canary, free of the generated Quotas."""
    if r.token not in _CANARY_NS:
        _CANARY_NS[r.token] = ns = new_namespace(r)
        unlimited = {"instances": -1, "cores": -1, "ram": -1}  # one canary a batch: past Nova's 10 in the large size
        quota = {
            "apiVersion": API,
            "kind": "Quota",
            "metadata": {"name": "default", "namespace": ns},
            "spec": unlimited,
        }
        assert kubectl_create(r.cluster, quota)[0] == 0
    return _CANARY_NS[r.token]


# --- references to deleted objects, concurrent writers --------------------------------------


def reference_cases(run: Run, ns: str) -> tuple[list[tuple[dict[str, Any], list[str] | None]], list[list[str]]]:
    """Servers naming a flavor, keypair or server group, each deleted before (done here) or
    just after (the returned command) the Server's create; and every delete, for the cleanup."""
    made: list[tuple[str, str, str]] = []  # (kind deleted, when, server)
    deletes: list[list[str]] = []
    servers: list[tuple[dict[str, Any], list[str] | None]] = []
    for kind in ("flavor", "keypair", "servergroup"):
        for when in ("before", "after"):
            ref = f"fz{run.token}-{kind}-{when}"
            obj: dict[str, Any]
            spec: dict[str, Any]
            if kind == "flavor":
                obj = {
                    "apiVersion": API,
                    "kind": "Flavor",
                    "metadata": {"name": ref},
                    "spec": {"vcpus": 1, "ram": 64},
                }
                spec = {"flavor": ref}
            elif kind == "keypair":
                obj = keypair_obj(ref, ns, {"publicKey": ED25519})
                spec = {"flavor": run.flavor, "keyName": ref}
            else:
                obj = {
                    "apiVersion": API,
                    "kind": "ServerGroup",
                    "metadata": {"name": ref, "namespace": ns},
                    "spec": {"policy": "anti-affinity"},
                }
                spec = {"flavor": run.flavor, "schedulerHints": {"group": ref}}
            assert kubectl_create(run.cluster, obj)[0] == 0
            delete = ["delete", kind, ref, "--wait=false"] + ([] if kind == "flavor" else ["-n", ns])
            name = f"ref-{kind}-{when}"
            server = server_obj(name, ns, {**spec, "image": "nginx:1.27", "backend": "container"})
            if when == "before":
                run.cluster.kubectl(*delete)
                servers.append((server, None))
            else:
                servers.append((server, delete))
            made.append((kind, when, name))
            deletes.append(delete)
    return servers, deletes


def test_references_deleted_just_before_or_after_a_server_names_them(run: Run) -> None:
    """A flavor, keypair or server group deleted just before or just after a Server names it:
    the Server is refused with a message, or settles (ACTIVE, or ERROR with a fault)."""
    ns = new_namespace(run)
    deletes: list[list[str]] = []
    try:
        servers, deletes = reference_cases(run, ns)
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:

            def create_then_delete(item: tuple[dict[str, Any], list[str] | None]) -> tuple[int, str]:
                result = kubectl_create(run.cluster, item[0])
                if item[1]:
                    run.cluster.kubectl(*item[1], check=False)
                return result

            results = list(pool.map(create_then_delete, servers))
        accepted = []
        problems = []
        for (server, _), (code, stderr) in zip(servers, results, strict=True):
            FIGURES["tried"] += 1
            if code == 0:
                accepted.append(server)
            elif p := check_refusal(stderr):
                problems.append(f"{server['metadata']['name']}: {p}")
        outcome, late = wait_settled(run, ns, accepted)
        problems += late
        problems += [f"{k} {n}: {how}" for (k, n), o in outcome.items() if (how := settled(o)) != "ok"]
        canary(run, new_namespace_for_canary(run))
        problems += operator_problems(run)
        assert not problems, "\n".join(problems)
    finally:
        for delete in deletes:
            run.cluster.kubectl(*delete, check=False)
        run.cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_two_writers_changing_one_servers_state_at_once_end_in_the_last_written_state(run: Run) -> None:
    """Two field managers patch spec.state at the same moment, several rounds: the Server ends in
    the state its final spec asks for, and only the writers own its spec."""
    ns = new_namespace(run)
    try:
        assert (
            kubectl_create(run.cluster, server_obj("contended", ns, {"flavor": run.flavor, "image": "nginx:1.27"}))[0]
            == 0
        )
        rounds = [("stopped", "active"), ("paused", "stopped"), ("active", "suspended"), ("stopped", "active")]

        def write(manager: str, state: str) -> None:
            patch = json.dumps({"spec": {"state": state}})
            run.cluster.kubectl(
                "patch", "server", "contended", "-n", ns, "--type=merge", f"--field-manager={manager}", "-p", patch
            )

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            for a, b in rounds:
                list(pool.map(lambda args: write(*args), [("writer-a", a), ("writer-b", b)]))
                time.sleep(0.5)
        FIGURES["tried"] += len(rounds) * 2

        def done() -> dict[str, Any] | None:
            obj = listed(run.cluster, "Server", ns)["contended"]
            st = obj.get("status") or {}
            return obj if settled(obj) and st.get("observedGeneration") == obj["metadata"]["generation"] else None

        obj = waiting.until(done, timeout=SETTLE, what="the contended server to settle")
        assert settled(obj) == "ok", obj.get("status")
        assert spec_owners(obj) <= {MANAGER, "writer-a", "writer-b"}, obj["metadata"]["managedFields"]
        assert obj["metadata"]["generation"] <= 1 + len(rounds) * 2
        assert not operator_problems(run)
    finally:
        run.cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)
