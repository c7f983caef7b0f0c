"""The CRDs generated from the models: fresh on disk, structural, and documented for
``kubectl explain``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubenova.api import crds
from kubenova.api.common import CATEGORY, GROUP, Kind, StatusBase

FORBIDDEN = {"$ref", "$defs", "anyOf", "allOf", "oneOf", "title", "const"}
ENVELOPE = {"apiVersion", "kind", "metadata"}


def walk(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}{{}}")


SCHEMAS = {c["spec"]["names"]["kind"]: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"] for c in crds.all_crds()}


ROOT = Path(__file__).resolve().parents[3]


def test_crds_on_disk_match_the_models(tmp_path: Path) -> None:
    on_disk = ["--out", str(ROOT / "crds"), "--chart-out", str(ROOT / "charts" / "kubenova" / "templates" / "crds")]
    assert crds.main(["--check", *on_disk]) == 0, "crds/ or the chart's CRDs are stale: run `make crds`"
    out = ["--out", str(tmp_path / "crds"), "--chart-out", str(tmp_path / "chart")]
    crds.main(out)
    assert crds.main(["--check", *out]) == 0
    (tmp_path / "chart" / "servers.compute.kubenova.io.yaml").write_text("stale")
    assert crds.main(["--check", *out]) == 1


def test_kustomization_lists_every_crd() -> None:
    files = crds.rendered()
    kustomization = yaml.safe_load(files[crds.KUSTOMIZATION])
    assert kustomization["resources"] == sorted(n for n in files if n != crds.KUSTOMIZATION)


def test_chart_crds_are_kept_on_uninstall_and_can_be_left_out() -> None:
    for name, text in crds.chart_rendered().items():
        assert text.splitlines()[1] == "{{- if .Values.crds.enabled }}", name
        assert "helm.sh/resource-policy: keep" in text, name


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_schemas_are_structural(kind: str) -> None:
    for path, node in walk(SCHEMAS[kind]):
        assert not FORBIDDEN & node.keys(), f"{kind}{path} has {FORBIDDEN & node.keys()}"
        assert "type" in node, f"{kind}{path} has no type"
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            assert isinstance(node.get(key, True), bool), f"{kind}{path}.{key} must be boolean"
        assert node.get("default", 0) is not None


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_every_field_has_a_description_for_kubectl_explain(kind: str) -> None:
    missing = [
        path
        for path, node in walk(SCHEMAS[kind])
        if path
        and not node.get("description")
        and path.split(".")[1] not in ENVELOPE
        and not path.endswith(("[]", "{}"))
    ]
    assert not missing, f"{kind}: no description on {missing}"


def test_every_kind_is_in_the_group_and_category_with_status_and_short_names() -> None:
    for c in crds.all_crds():
        spec = c["spec"]
        assert spec["group"] == GROUP
        assert CATEGORY in spec["names"]["categories"]
        assert spec["names"]["shortNames"]
        version = spec["versions"][0]
        assert version["subresources"] == {"status": {}}
        assert version["additionalPrinterColumns"][-1]["name"] == "Age"
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
        assert {"observedGeneration", "conditions"} <= status.keys()
        assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]


def test_short_names_do_not_shadow_kubernetes_ones() -> None:
    builtin = {"sa", "svc", "po", "no", "ns", "cm", "ds", "rs", "pv", "pvc", "quota", "hpa", "sts", "ing", "ep"}
    names = [n for c in crds.all_crds() for n in c["spec"]["names"]["shortNames"]]
    assert len(names) == len(set(names))
    assert not builtin & set(names)


def test_server_columns_read_like_openstack_server_list() -> None:
    server = next(c for c in crds.all_crds() if c["spec"]["names"]["kind"] == "Server")
    columns = [
        col["name"] for col in server["spec"]["versions"][0]["additionalPrinterColumns"] if "priority" not in col
    ]
    assert columns == ["Status", "Task State", "Power State", "Networks", "Image", "Flavor", "Age"]


@pytest.mark.parametrize("kind", crds.KINDS, ids=lambda k: k.kind)
def test_every_status_has_a_generation_and_conditions_in_its_own_words_last(kind: Kind) -> None:
    assert issubclass(kind.status, StatusBase)
    properties = crds.openapi_schema(kind)["properties"]["status"]["properties"]
    assert list(properties)[-2:] == ["observedGeneration", "conditions"]
    assert properties["conditions"]["description"] == kind.status.CONDITIONS
    assert kind.status.CONDITIONS.startswith("Ready")
