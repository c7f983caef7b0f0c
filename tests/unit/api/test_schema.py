"""Pydantic's JSON Schema turned into a structural one."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kubenova.api.schema import structural


class Inner(BaseModel):
    """Inner docs."""

    x: int = 1


class Outer(BaseModel):
    a: Inner | None = Field(default=None, description="field docs")
    b: float = Field(default=1.0, gt=0)
    c: list[str] = Field(default_factory=list)


def test_refs_are_inlined_optional_unwrapped_and_defaults_kept_only_for_scalars() -> None:
    s = structural(Outer.model_json_schema())
    a = s["properties"]["a"]
    assert a["description"] == "field docs"  # the field's words win over the model's docstring
    assert a["properties"]["x"] == {"default": 1, "type": "integer"}
    assert "title" not in s
    assert s["properties"]["b"] == {"default": 1.0, "exclusiveMinimum": True, "minimum": 0, "type": "number"}
    assert "default" not in s["properties"]["c"]
