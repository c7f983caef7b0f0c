"""Pydantic's JSON Schema, made into a Kubernetes structural OpenAPI v3 schema.

Kubernetes wants every type inline (no ``$ref``), no ``anyOf`` for optional fields, no titles
and no ``null`` defaults; CEL rules and list types ride along as ``x-kubernetes-*`` keys that
the models set through ``json_schema_extra``. Pure, so a unit test can hold it to that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_DROPPED = frozenset({"title", "$defs"})


def structural(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The structural form of a model's ``model_json_schema()``."""
    defs: Mapping[str, Any] = schema.get("$defs", {})
    result = _walk(schema, defs)
    assert isinstance(result, dict)
    return result


def _walk(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [_walk(n, defs) for n in node]
    if not isinstance(node, Mapping):
        return node
    node = dict(node)
    if "$ref" in node:
        # A field's own keys (its description, say) win over the referenced model's.
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        return _walk({**target, **node}, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"a CRD field cannot be a union: {node['anyOf']}")
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return _walk({**options[0], **rest}, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "default" and (value is None or value in ([], {})):
            continue  # left to the apiserver's pruning: no empty lists or nulls written for users
        if key == "properties":
            out[key] = {name: _walk(sub, defs) for name, sub in value.items()}
        elif key == "const":
            out["enum"] = [value]
        else:
            out[key] = _walk(value, defs)
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), int | float) and not isinstance(out[bound], bool):
            # JSON Schema 2020's number form; Kubernetes' OpenAPI v3 wants the boolean form.
            out[limit], out[bound] = out[bound], True
    if out.get("additionalProperties") is False:
        del out["additionalProperties"]  # structural schemas prune unknown fields already
    return out
