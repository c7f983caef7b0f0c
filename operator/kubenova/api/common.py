"""What every kind shares: the group and version, the base models (of every spec and status, and
:class:`StatusBase` of every status), conditions, faults, and the description of a kind from
which :mod:`kubenova.api.crds` builds its CRD.

Models use snake_case in Python and camelCase on the wire (Kubernetes' convention), and take
their field descriptions from attribute docstrings, so ``kubectl explain`` and the code read
the same words.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

GROUP = "compute.kubenova.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "kubenova"

# Kubernetes' own shapes for names a spec refers to.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DATE_TIME: JsonDict = {"format": "date-time"}

NamespaceName = Annotated[str, Field(pattern=DNS_LABEL, max_length=63)]
ObjectName = Annotated[str, Field(pattern=DNS_SUBDOMAIN, max_length=253)]


def rule(rule: str, message: str, *, field_path: str | None = None, reason: str | None = None) -> dict[str, str]:
    """One CEL validation rule (``x-kubernetes-validations``) with the message users see."""
    out = {"rule": rule, "message": message}
    if field_path:
        out["fieldPath"] = field_path
    if reason:
        out["reason"] = reason
    return out


def rules(*items: dict[str, str]) -> dict[str, Any]:
    """``json_schema_extra`` carrying CEL rules, for a model's config or a field."""
    return {"x-kubernetes-validations": list(items)}


class ApiModel(BaseModel):
    """Base of every spec and status model."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_attribute_docstrings=True,
        extra="ignore",
    )

    def wire(self) -> dict[str, Any]:
        """The object as it goes to the API: camelCase, without unset optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Condition(ApiModel):
    """A Kubernetes condition (metav1.Condition). ``Ready`` is the one ``kubectl wait`` uses."""

    type: str = Field(max_length=316)
    """The condition's type, such as Ready or Scheduled."""
    status: Literal["True", "False", "Unknown"]
    """Whether the condition holds."""
    reason: str = Field(default="", max_length=1024)
    """A CamelCase word for why the condition has its status."""
    message: str = Field(default="", max_length=32768)
    """What happened, for a human."""
    last_transition_time: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    """When the status last changed."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation the condition was computed from."""


CONDITIONS_LIST: JsonDict = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}


def conditions_field() -> Any:
    return Field(default_factory=list, max_length=32, json_schema_extra=CONDITIONS_LIST)


def _status_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Every kind's own status fields first and the shared two last, as ``kubectl explain``
    shows them, with the conditions described in the kind's own words."""
    properties = schema.get("properties", {})
    for name in ("observedGeneration", "conditions"):
        if name in properties:
            properties[name] = properties.pop(name)
    if "conditions" in properties and (described := getattr(model, "CONDITIONS", "")):
        properties["conditions"]["description"] = described


class StatusBase(ApiModel):
    """Base of every kind's status: the generation it describes and its conditions.

    A subclass says in :attr:`CONDITIONS` which conditions it carries and when they hold; that
    sentence becomes the field's description in the CRD.
    """

    model_config = ApiModel.model_config | {"json_schema_extra": _status_schema}

    CONDITIONS: ClassVar[str] = ""
    """The description of :attr:`conditions` in this kind's CRD."""

    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation this status describes."""
    conditions: list[Condition] = conditions_field()
    """The kind's conditions (Ready, at least)."""


class Fault(ApiModel):
    """Nova's instance fault: why the object is in ERROR, and what to do about it."""

    code: int = Field(ge=0, le=999)
    """An HTTP-style code as Nova gives it: 400 bad request, 409 conflict, 500 no valid host..."""
    message: str = Field(max_length=4096)
    """What went wrong, in Nova's words where Nova has them."""
    details: str = Field(default="", max_length=32768)
    """More detail, when there is any."""
    created: str = Field(json_schema_extra=DATE_TIME)
    """When the fault was recorded."""


class ObjectRef(ApiModel):
    """A namespaced object, by name and uid."""

    namespace: str = Field(max_length=63)
    """Its namespace."""
    name: str = Field(max_length=253)
    """Its name."""
    uid: str = Field(default="", max_length=64)
    """Its uid, Nova's id of the object."""


@dataclasses.dataclass(frozen=True)
class Column:
    """A printer column for ``kubectl get``."""

    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0

    def crd(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            out["description"] = self.description
        if self.priority:
            out["priority"] = self.priority
        return out


AGE = Column("Age", ".metadata.creationTimestamp", "date")


@dataclasses.dataclass(frozen=True)
class Kind:
    """One kind of the API and everything its CRD needs beyond the spec and status models."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    scope: Literal["Namespaced", "Cluster"]
    description: str
    spec: type[ApiModel]
    status: type[StatusBase]
    columns: tuple[Column, ...]
    spec_required: bool = True
    name_rules: tuple[dict[str, str], ...] = ()
    """CEL rules on metadata.name (``self`` is the name)."""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"
