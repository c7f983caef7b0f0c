"""Property-based tests of the pure validators (issue 15, "Bad input"): on any input, a public
key is either fingerprinted or refused with :class:`keypairs.InvalidKeypair` (never another
exception), and the quota and admission checks answer None or a message, never raise.

A fixed seed in CI; ``KUBENOVA_FUZZ_EXAMPLES=500`` (examples per property) for a larger run.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubenova import admission, keypairs, quotas
from kubenova.admission import Refusal, View

EXAMPLES = int(os.environ.get("KUBENOVA_FUZZ_EXAMPLES", "0")) or 100
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=not os.environ.get("KUBENOVA_FUZZ_EXAMPLES"),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDNb5XS3vjRtgp7HmaQF/sOn2Ecpt1Tx4TqKYO4NVb5x bob"
KEY_TYPES = [
    "ssh-rsa",
    "ssh-ed25519",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
]


def ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


@st.composite
def framed_blobs(draw: st.DrawFn) -> str:
    """An ssh wire-format blob: a real key type then random fields (wrong lengths included)."""
    kind = draw(st.sampled_from(KEY_TYPES))
    fields = draw(st.lists(st.binary(max_size=300), max_size=4))
    blob = ssh_string(kind.encode()) + b"".join(ssh_string(f) for f in fields)
    if draw(st.booleans()):
        blob = blob[: draw(st.integers(0, len(blob)))]
    return f"{draw(st.sampled_from(KEY_TYPES))} {base64.b64encode(blob).decode()} comment"


def truncated_real_key(cut: int) -> str:
    return ED25519[:cut]


garbage_keys = st.one_of(
    st.text(max_size=400),
    st.binary(max_size=400).map(lambda b: b.decode("latin-1")),
    st.builds(lambda t, b: f"{t} {base64.b64encode(b).decode()}", st.sampled_from(KEY_TYPES), st.binary(max_size=600)),
    framed_blobs(),
    st.integers(0, len(ED25519)).map(truncated_real_key),
    st.builds(lambda t: f"{t} {ED25519.split()[1]}", st.text(max_size=40)),
    st.binary(min_size=1, max_size=200).map(
        lambda b: "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(b).decode() + "-----END CERTIFICATE-----\n"
    ),
)


@FUZZ
@given(key=garbage_keys, key_type=st.sampled_from(["ssh", "x509"]))
def test_a_fingerprint_of_anything_is_fingerprints_or_invalid_keypair(key: str, key_type: str) -> None:
    try:
        prints = keypairs.fingerprints(key, key_type)
    except keypairs.InvalidKeypair as exc:
        message = str(exc)
        assert message == keypairs.INVALID_KEY  # any other exception fails the test
    else:
        assert prints.md5
        assert prints.sha256


@FUZZ
@given(key=garbage_keys, key_type=st.sampled_from(["ssh", "x509"]))
def test_a_keypair_status_of_anything_is_ready_or_a_fault(key: str, key_type: str) -> None:
    s = keypairs.status(
        key_type=key_type, public_key=key, secret=None, previous={}, generation=1, now="2026-12-01T00:00:00Z"
    )
    ready = next(c for c in s["conditions"] if c["type"] == "Ready")
    if ready["status"] == "True":
        assert s["fingerprint"]
        assert s["fault"] is None
    else:
        assert s["fault"]["code"] == 400
        assert s["fault"]["message"] == keypairs.INVALID_KEY


def test_a_huge_key_is_refused_as_invalid() -> None:
    with pytest.raises(keypairs.InvalidKeypair):
        keypairs.fingerprints("ssh-rsa " + "A" * 16000)
    with pytest.raises(keypairs.InvalidKeypair):
        keypairs.fingerprints("ssh-rsa " + base64.b64encode(os.urandom(12000)).decode())


limit_values = st.one_of(st.just(quotas.UNLIMITED), st.integers(0, 10**6))
quota_specs = st.dictionaries(
    st.sampled_from([quotas.spec_field(r) for r in quotas.RESOURCES] + ["unknownField"]), limit_values, max_size=8
)
usages = st.builds(
    quotas.Usage,
    instances=st.integers(0, 10**4),
    cores=st.integers(0, 10**5),
    ram=st.integers(0, 10**8),
    key_pairs=st.integers(0, 10**4),
    server_groups=st.integers(0, 10**4),
)


@FUZZ
@given(spec=quota_specs, usage=usages, vcpus=st.integers(0, 4096), ram=st.integers(0, 64 * 1024 * 1024))
def test_quota_checks_answer_none_or_novas_message(
    spec: dict[str, int], usage: quotas.Usage, vcpus: int, ram: int
) -> None:
    limit = quotas.limits(spec)
    assert set(limit) == set(quotas.RESOURCES)
    request = quotas.server_request(vcpus, ram)
    message = quotas.over_quota(request, usage, limit)
    over = [r for r, n in request.items() if n > 0 and limit[r] != quotas.UNLIMITED and usage.of(r) + n > limit[r]]
    assert (message is None) == (not over)
    if message:
        assert message.startswith(f"Quota exceeded for {over[0]}")
    for problem in (quotas.keypair_problem(usage, limit), quotas.server_group_problem(usage, limit)):
        assert problem is None or problem.startswith("Quota exceeded")


@FUZZ
@given(items=st.integers(0, 300), spec=quota_specs)
def test_metadata_at_and_past_the_limit(items: int, spec: dict[str, int]) -> None:
    limit = quotas.limits(spec)
    metadata = {f"k{i}": "v" for i in range(items)}
    problem = quotas.metadata_problem(metadata, limit)
    allowed = limit["metadata_items"]
    assert (problem is not None) == (allowed != quotas.UNLIMITED and items > allowed)


names = st.text(min_size=0, max_size=300)
jsonish: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
server_specs = st.fixed_dictionaries(
    {"flavor": st.sampled_from(["small", "private", "gone", ""]) | names},
    optional={
        "image": names,
        "keyName": names,
        "metadata": st.dictionaries(st.text(max_size=300), st.text(max_size=300), max_size=200),
        "schedulerHints": st.fixed_dictionaries({}, optional={"group": names}),
        "tags": st.lists(st.text(max_size=80), max_size=60),
        "extra": jsonish,
    },
)
FLAVORS: dict[str, dict[str, Any]] = {
    "small": {"vcpus": 1, "ram": 1024},
    "private": {"vcpus": 1, "ram": 512, "isPublic": False, "access": ["team-a"]},
}


def fuzz_view(limit: dict[str, int], usage: quotas.Usage) -> View:
    return View(
        flavor=FLAVORS.get,
        keypair_exists=lambda ns, name: name == "mine",
        server_group_exists=lambda ns, name: name == "grp",
        group_members=lambda ns, group: [f"m{i}" for i in range(12)],
        limits=lambda ns: limit,
        usage=lambda ns: usage,
        host_zones=lambda host: [("other", "az2")] if host.startswith("h") else [],
    )


@FUZZ
@given(spec=server_specs, quota=quota_specs, usage=usages, namespace=st.sampled_from(["team-a", "team-b"]), name=names)
def test_admission_of_any_server_is_none_or_a_refusal_with_a_message(
    spec: dict[str, Any], quota: dict[str, int], usage: quotas.Usage, namespace: str, name: str
) -> None:
    v = fuzz_view(quotas.limits(quota), usage)
    for answer in (
        admission.server_create(namespace, name, spec, v),
        admission.server_update(namespace, {"flavor": "small"}, spec, {}, v),
    ):
        assert answer is None or (
            isinstance(answer, Refusal) and answer.message and answer.code in (400, 403, 404, 409)
        )


@FUZZ
@given(
    name=names,
    zone=st.none() | names,
    hosts=st.lists(st.text(max_size=20), max_size=5),
)
def test_admission_of_any_aggregate_is_none_or_a_refusal(name: str, zone: str | None, hosts: list[str]) -> None:
    spec: dict[str, Any] = {"hosts": hosts} | ({"availabilityZone": zone} if zone is not None else {})
    answer = admission.aggregate(name, spec, fuzz_view(quotas.limits({}), quotas.Usage()))
    assert answer is None or answer.message


# Defects the integration fuzz found (tests/integration/test_fuzz.py), kept as regressions.

SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@FUZZ
@given(name=st.from_regex(SUBDOMAIN, fullmatch=True).filter(lambda n: len(n) <= 253))
def test_a_keypairs_secret_has_a_valid_name_and_labels_whatever_its_name(name: str) -> None:
    """A Keypair named with 200 characters got no key: its Secret's label (and past 245
    characters its name) was invalid, so the create was refused and retried for ever."""
    secret = keypairs.secret_name(name)
    assert len(secret) <= 253
    assert SUBDOMAIN.match(secret)
    if len(name) <= 245:
        assert secret == f"keypair-{name}"  # unchanged: a restart finds the Secret it made
    for value in keypairs.secret_labels(name).values():
        assert len(value) <= 63


def test_a_253_character_keypair_name_gets_a_distinct_short_secret_name() -> None:
    a, b = "a" * 252 + "b", "a" * 252 + "c"
    assert keypairs.secret_name(a) != keypairs.secret_name(b)
    assert len(keypairs.secret_name(a)) <= 253
    assert "compute.kubenova.io/keypair" not in keypairs.secret_labels("a" * 64)
    assert keypairs.secret_labels("web")["compute.kubenova.io/keypair"] == "web"


def test_an_aggregate_event_reconciles_each_host_by_its_own_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """kopf passes the aggregate's ``name``; it collided with reconcile's (a TypeError logged
    for every Aggregate with hosts)."""
    from kubenova.handlers import hosts as host_handlers

    seen: list[str] = []

    async def reconcile(name: str, **kwargs: Any) -> None:
        seen.append(name)

    monkeypatch.setattr(host_handlers, "reconcile", reconcile)
    event: Any = {"type": "ADDED"}
    spec: Any = {"hosts": ["compute-1", "compute-2"]}
    handler: Any = host_handlers.aggregate_event
    asyncio.run(handler(event=event, spec=spec, memo=None, name="agg", node_facts={}))
    assert seen == ["compute-1", "compute-2"]
