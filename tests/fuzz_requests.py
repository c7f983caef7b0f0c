"""Hypothesis strategies for Compute API requests (issue 15, "Bad input"), shared by the pure
fuzz tests (``tests/unit/test_fuzz_compute_api.py``) and the ones against ``kubenova api`` on
the dev cluster (``tests/integration/test_api_fuzz.py``).

Bodies start from a valid request and are bent: a member of the wrong type, missing, or one
nobody asked for; huge and unicode strings; values near Nova's limits. Microversion headers are
garbage, well-formed but out of range, or served.
"""

from __future__ import annotations

import os
import re
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

LARGE = int(os.environ.get("KUBENOVA_FUZZ_EXAMPLES", "0"))


def fuzz_settings(ci_examples: int) -> settings:
    """A fixed seed and ``ci_examples`` in CI; ``KUBENOVA_FUZZ_EXAMPLES`` and a random seed
    (printed on failure) for a larger run."""
    return settings(
        max_examples=LARGE or ci_examples,
        derandomize=not LARGE,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # every example is a round trip: no shrinking
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )


# --- values ----------------------------------------------------------------------------------

texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=300),
    st.sampled_from(["", " ", "\x00", "../..", "a" * 256, "é" * 255, "😀" * 70, "%s%n", "null", "²", "٣", "1e9"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=8,
)


def around(valid: Any) -> st.SearchStrategy[Any]:
    """``valid`` itself half of the time, else anything."""
    return st.one_of(st.just(valid), json_values)


@st.composite
def bent(draw: st.DrawFn, valid: dict[str, Any], fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """``valid`` with some members replaced by what ``fields`` draws, some dropped, some added."""
    out = dict(valid)
    for key, strategy in fields.items():
        choice = draw(st.integers(0, 5))
        if choice == 0:
            out.pop(key, None)
        elif choice <= 2:
            out[key] = draw(strategy)
    for _ in range(draw(st.integers(0, 2))):
        out[draw(st.text(max_size=16))] = draw(json_values)
    return out


# --- microversions ---------------------------------------------------------------------------

SERVED = ["2.1", "2.2", "2.37", "2.52", "2.74", "2.90", "2.100", "latest"]
versions = st.one_of(
    st.sampled_from(SERVED),
    st.sampled_from(["2.0", "2.101", "2.999", "3.0", "1.1", "2.01", "02.1", "2.", ".1", "2..1", "2.1.1", "v2.1"]),
    st.builds(lambda a, b: f"{a}.{b}", st.integers(0, 10**6), st.integers(0, 10**6)),
    st.text(alphabet=st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=30),
)
"""Header values: served, out of range, malformed (latin-1: what HTTP headers carry)."""
header_texts = st.text(alphabet=st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=300)


@st.composite
def version_header_sets(draw: st.DrawFn) -> dict[str, str]:
    """Microversion headers in the forms clients send and some they do not: the legacy one, the
    standard one (bare, or among other services'), both, or none."""
    value = draw(versions)
    modern = draw(
        st.sampled_from(
            ["compute {v}", "{v}", "compute {v}, placement 1.0", "placement 1.0, compute {v}", "volume {v}",
             "COMPUTE {v}", "compute 2.1, compute {v}", "compute {v},"]
        )
    )  # fmt: skip
    which = draw(st.integers(0, 3))
    headers: dict[str, str] = {}
    if which in (0, 2):
        headers["X-OpenStack-Nova-API-Version"] = value
    if which in (1, 2):
        headers["OpenStack-API-Version"] = modern.format(v=value)
    return headers


NOVA_VERSION = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
"""nova/api/openstack/api_version_request.py: what a version string must look like."""


def nova_version_answer(headers: dict[str, str], low: tuple[int, int], high: tuple[int, int]) -> tuple[int, str]:
    """What Nova answers for these headers (served ``low`` to ``high``): 200 and the version, or
    400 (malformed) or 406 (out of range). The header parsing is microversion_parse's, as read
    in its source: the standard header's last ``compute <v>``, else the legacy header's last part."""
    text: str | None = None
    for part in reversed(headers.get("OpenStack-API-Version", "").split(",")):
        words = part.strip().split(None, 1)
        if len(words) == 2 and words[0].lower() == "compute" and words[1].strip():
            text = words[1].strip()
            break
    if text is None and "X-OpenStack-Nova-API-Version" in headers:
        text = headers["X-OpenStack-Nova-API-Version"].split(",")[-1].strip()
    if text is None:
        return 200, "2.1"
    if text == "latest":
        return 200, f"{high[0]}.{high[1]}"
    m = NOVA_VERSION.match(text)
    if not m:
        return 400, ""
    version = (int(m.group(1)), int(m.group(2)))
    return (200, f"{version[0]}.{version[1]}") if low <= version <= high else (406, "")


def version_headers(value: str | None, *, modern: bool) -> dict[str, str]:
    if value is None:
        return {}
    if modern:
        return {"OpenStack-API-Version": f"compute {value}"}
    return {"X-OpenStack-Nova-API-Version": value}


# --- POST /servers ---------------------------------------------------------------------------

bdm = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "source_type": around("volume"),
            "destination_type": around("volume"),
            "uuid": around("vol-1"),
            "boot_index": st.one_of(st.sampled_from([0, 1, -1, "0", "none", None, "x"]), json_values),
            "volume_size": st.one_of(st.sampled_from([1, 0, -1, "1", "big", 10**12]), json_values),
            "delete_on_termination": st.one_of(st.booleans(), json_values),
        },
    ),
)


def server_fields(flavor: str, image: str) -> dict[str, st.SearchStrategy[Any]]:
    return {
        "name": st.one_of(texts, json_values),
        "flavorRef": st.one_of(st.sampled_from([flavor, "missing", "1", "http://x/flavors/" + flavor]), json_values),
        "imageRef": st.one_of(st.sampled_from([image, "", "missing:1", "http://x/images/abc"]), json_values),
        "networks": st.one_of(
            st.sampled_from(["auto", "none", [], [{"uuid": "pod"}], [{"port": "p"}], [{"uuid": ""}]]),
            st.lists(st.dictionaries(st.sampled_from(["uuid", "port", "fixed_ip", "tag"]), json_values), max_size=3),
            json_values,
        ),
        "block_device_mapping_v2": st.one_of(st.lists(bdm, max_size=3), json_values),
        "security_groups": st.one_of(
            st.lists(st.one_of(st.fixed_dictionaries({"name": json_values}), json_values), max_size=3), json_values
        ),
        "metadata": st.one_of(
            st.dictionaries(st.text(max_size=300), st.one_of(st.text(max_size=300), json_values), max_size=5),
            json_values,
        ),
        "user_data": st.one_of(st.sampled_from(["aGk=", "not base64!", "A" * 65536]), json_values),
        "key_name": st.one_of(st.sampled_from(["missing", "a" * 300, "Ünï"]), json_values),
        "availability_zone": st.one_of(st.sampled_from(["nova", "missing", "nova:host", "::"]), json_values),
        "min_count": st.one_of(st.sampled_from([1, 2, 0, "1", "²", -1]), json_values),
        "max_count": st.one_of(st.sampled_from([1, 2, 0, "1", "٣"]), json_values),
        "accessIPv4": st.one_of(st.sampled_from(["10.0.0.1", "999.1.1.1", "::1"]), json_values),
        "accessIPv6": st.one_of(st.sampled_from(["::1", "10.0.0.1", "zz::"]), json_values),
        "config_drive": json_values,
        "description": json_values,
        "hostname": json_values,
        "tags": st.one_of(st.lists(st.text(max_size=70), max_size=60), json_values),
        "adminPass": json_values,
        "OS-DCF:diskConfig": st.one_of(st.sampled_from(["AUTO", "MANUAL", "x"]), json_values),
    }


@st.composite
def server_bodies(draw: st.DrawFn, flavor: str, image: str) -> Any:
    """``POST /servers`` bodies: mostly a bent valid one, sometimes anything at all."""
    valid = {"name": "fuzz", "flavorRef": flavor, "imageRef": image, "networks": "auto"}
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    body: dict[str, Any] = {"server": draw(bent(valid, server_fields(flavor, image)))}
    hints = draw(st.integers(0, 4))
    if hints == 0:
        body["os:scheduler_hints"] = draw(json_values)
    elif hints == 1:
        body["OS-SCH-HNT:scheduler_hints"] = draw(
            st.dictionaries(st.sampled_from(["group", "same_host", "different_host", "query"]), json_values)
        )
    return body


# --- POST /servers/{id}/action ---------------------------------------------------------------

ACTIONS = [
    "os-stop", "os-start", "pause", "unpause", "suspend", "resume", "shelve", "shelveOffload", "unshelve",
    "lock", "unlock", "reboot", "resize", "confirmResize", "revertResize", "rebuild", "migrate",
    "os-migrateLive", "evacuate", "createImage", "createBackup", "addSecurityGroup", "removeSecurityGroup",
    "os-getConsoleOutput", "os-getVNCConsole", "os-getSerialConsole", "rescue", "unrescue", "restore",
    "forceDelete", "os-resetState", "trigger_crash_dump", "changePassword", "addFixedIp", "injectNetworkInfo",
    "resetNetwork", "os-resetNetwork", "addFloatingIp", "removeFloatingIp",
]  # fmt: skip
ACTION_ARGS: dict[str, dict[str, Any]] = {
    "reboot": {"type": "SOFT"},
    "resize": {"flavorRef": "1"},
    "rebuild": {"imageRef": "docker.io/library/busybox:1.36", "name": "x", "metadata": {}},
    "createImage": {"name": "snap", "metadata": {}},
    "createBackup": {"name": "b", "backup_type": "daily", "rotation": 1},
    "os-migrateLive": {"host": None, "block_migration": "auto"},
    "evacuate": {"host": "h"},
    "addSecurityGroup": {"name": "default"},
    "removeSecurityGroup": {"name": "default"},
    "os-getConsoleOutput": {"length": 10},
    "os-getVNCConsole": {"type": "novnc"},
    "os-getSerialConsole": {"type": "serial"},
    "lock": {"locked_reason": "r"},
    "os-resetState": {"state": "active"},
}


@st.composite
def action_bodies(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(json_values)
    if kind == 1:  # more than one action, or none
        return draw(st.dictionaries(st.sampled_from(ACTIONS), json_values, max_size=3))
    name = draw(st.one_of(st.sampled_from(ACTIONS), st.text(max_size=20)))
    valid = ACTION_ARGS.get(name, {})
    if draw(st.booleans()) and valid:
        arg: Any = draw(bent(valid, dict.fromkeys(valid, json_values)))
    else:
        arg = draw(st.one_of(st.none(), json_values))
    return {name: arg}


# --- raw bodies --------------------------------------------------------------------------------

raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=100).map(str.encode),
    st.sampled_from(
        [
            b"",
            b"{",
            b"[]",
            b"null",
            b"42",
            b'"server"',
            b"{'server': {}}",
            b'{"server": NaN}',
            b'{"server": Infinity}',
            b"\xff\xfe{}",
            b'{"a": 1, "a": 2}',
            b"[" * 100_000 + b"]" * 100_000,
            b'{"server":' * 50_000 + b"1" + b"}" * 50_000,
            b"\x00" * 64,
        ]
    ),
)
"""Bodies that are not JSON, are JSON but not an object, nest deeply, or are binary."""

content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/vnd.openstack.compute+json",
            "text/plain",
            "text/html",
            "application/xml",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "*/*",
            ";;;",
            "",
        ]
    ),
    st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=40),
)


# --- POST /os-keypairs -------------------------------------------------------------------------

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDNb5XS3vjRtgp7HmaQF/sOn2Ecpt1Tx4TqKYO4NVb5x bob"
public_keys = st.one_of(
    st.just(ED25519),
    st.integers(1, len(ED25519) - 1).map(lambda cut: ED25519[:cut]),  # truncated
    st.sampled_from(["ssh-rsa " + ED25519.split()[1], "ssh-dss AAAA", "x509 AAAA", "", " ", "ssh-ed25519"]),
    st.just("ssh-ed25519 " + "A" * 20000),  # huge
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),  # binary
    json_values,
)


@st.composite
def keypair_bodies(draw: st.DrawFn) -> Any:
    """``POST /os-keypairs`` bodies: names, types and public keys bent, malformed keys above all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    valid = {"name": f"fz-{draw(st.integers(0, 10**6))}", "public_key": ED25519, "type": "ssh"}
    fields = {
        "name": st.one_of(texts, json_values),
        "public_key": public_keys,
        "type": st.one_of(st.sampled_from(["ssh", "x509", "rsa", ""]), json_values),
    }
    kp = draw(bent(valid, fields))
    if draw(st.booleans()):
        kp["public_key"] = draw(public_keys)
    return {"keypair": kp}
