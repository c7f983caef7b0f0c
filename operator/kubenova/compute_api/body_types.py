"""The JSON types of request members as Nova's schemas give them (``nova/api/validation/
parameter_types.py``, ``nova/api/openstack/compute/schemas/servers.py``), checked before a
handler converts them: a member of the wrong type is Nova's 400 ``Invalid input for
field/attribute ...`` rather than an exception (a 500) or a value Kubernetes refuses later.

Only the types and lengths: the formats Nova checks with its own code stay with the handlers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from kubenova.compute_api.errors import NovaError, bad_request

_DIGITS = re.compile(r"^[0-9]+$")  # ASCII only: "²".isdigit() is True but int("²") fails
_BOOLEANS = {"true", "1", "on", "yes", "false", "0", "off", "no"}
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}


def invalid(field: str, value: Any, why: str) -> NovaError:
    return bad_request(f"Invalid input for field/attribute {field}. Value: {value}. {why}")


def _type_name(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def string(field: str, value: Any, *, min_length: int = 0, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise invalid(field, value, f"{value!r} is not of type 'string'")
    if len(value) < min_length:
        raise invalid(field, value, f"{value!r} is too short")
    if max_length is not None and len(value) > max_length:
        raise invalid(field, value, f"{value!r} is too long")
    return value


def name(field: str, value: Any) -> str:
    """Nova's ``name``: a string of 1 to 255 characters, not only spaces."""
    text = string(field, value, min_length=1, max_length=255)
    if not text.strip():
        raise invalid(field, value, f"{value!r} does not match any of the regexes: printable characters")
    return text


def _integer(field: str, value: Any, *, digits: re.Pattern[str], pattern: str, minimum: int) -> int:
    """An integer, or a string that ``digits`` matches, at least ``minimum``: the shape of Nova's
    integer types, with their schema's ``pattern`` (the text its refusal quotes) and minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise invalid(field, value, f"{value!r} is not of type 'integer', 'string'")
    if isinstance(value, str) and not digits.match(value):
        raise invalid(field, value, f"{value!r} does not match '{pattern}'")
    number = int(value)
    if number < minimum:
        raise invalid(field, value, f"{value!r} is less than the minimum of {minimum}")
    return number


def positive_integer(field: str, value: Any) -> int:
    """Nova's ``positive_integer``: an integer, or a string of ASCII digits, at least 1."""
    return _integer(field, value, digits=_DIGITS, pattern="^[0-9]*$", minimum=1)


def boolean(field: str, value: Any) -> bool:
    """Nova's ``boolean``: true or false, or one of the words it takes for them."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOLEANS:
        return value.lower() in ("true", "1", "on", "yes")
    raise invalid(field, value, f"{value!r} is not one of [True, 'True', 'true', '1', False, 'False', 'false', '0']")


def array(field: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise invalid(field, value, f"{value!r} is not of type 'array'")
    return value


def obj(field: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid(field, value, f"{value!r} is not of type 'object'")
    return value


def metadata(field: str, value: Any) -> dict[str, str]:
    """Nova's ``metadata``: an object of string keys (1 to 255) to strings (at most 255)."""
    for key, item in obj(field, value).items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise invalid(field, value, f"Additional properties are not allowed ({key!r} was unexpected)")
        if not isinstance(item, str):
            raise invalid(f"{field}/{key}", item, f"{item!r} is not of type 'string'")
        if len(item) > 255:
            raise invalid(f"{field}/{key}", item, f"{item!r} is too long")
    return dict(value)


def flavor_ref(field: str, value: Any) -> str:
    """Nova's ``flavor_ref``: a string (not empty) or an integer."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise invalid(field, value, f"{value!r} is not of type 'string', 'integer'")
    return str(value)


def description(field: str, value: Any) -> str | None:
    """Nova's ``description`` (2.19): a string of at most 255 characters, or null."""
    return None if value is None else string(field, value, max_length=255)


def hostname(field: str, value: Any) -> str:
    return string(field, value, min_length=1, max_length=255)


def user_data(field: str, value: Any) -> str:
    """Nova's ``user_data``: a string (base64, which the operator checks) of at most 65535."""
    return string(field, value, max_length=65535)


Check = Callable[[str, Any], Any]
SERVER_CREATE: dict[str, Check] = {
    "name": name,
    "imageRef": string,
    "flavorRef": flavor_ref,
    "adminPass": string,
    "metadata": metadata,
    "availability_zone": name,
    "block_device_mapping_v2": array,
    "config_drive": boolean,
    "key_name": name,
    "min_count": positive_integer,
    "max_count": positive_integer,
    "security_groups": array,
    "user_data": user_data,
    "description": description,
    "hostname": hostname,
    "tags": array,
}
"""``POST /servers``' ``server`` members and their checks (``networks`` and the access IPs
are checked where they are converted)."""


def check(members: Mapping[str, Any], checks: Mapping[str, Check]) -> None:
    """Each member of ``members`` that ``checks`` names, checked (Nova's 400 for the first wrong one)."""
    for key, checker in checks.items():
        if key in members:
            checker(key, members[key])


def tags(value: list[Any]) -> list[str]:
    """Nova's server tags (2.52): at most 50 strings of 1 to 60 characters without ``/`` or ``,``."""
    if len(value) > 50:
        raise invalid("tags", value, f"{value!r} is too long")
    for tag in value:
        text = string("tags", tag, min_length=1, max_length=60)
        if "/" in text or "," in text:
            raise invalid("tags", tag, f"{tag!r} does not match '^[^,/]*$'")
    return list(value)


def scheduler_hints(field: str, value: Any) -> Mapping[str, Any]:
    """Nova's ``os:scheduler_hints``: an object whose ``group`` is a string and whose
    ``same_host``/``different_host`` are a server id or a list of them."""
    hints = obj(field, value)
    if "group" in hints:
        string(f"{field}/group", hints["group"])
    for key in ("same_host", "different_host"):
        if key in hints and not isinstance(hints[key], str):
            for ref in array(f"{field}/{key}", hints[key]):
                string(f"{field}/{key}", ref)
    return hints


_QUOTA = re.compile(r"^-?[0-9]+$")
MAX_INT = 0x7FFFFFFF  # nova.db MAX_INT: quotas are 32-bit columns


def quota_value(field: str, value: Any) -> int:
    """Nova's quota value: an integer (or its string) from -1 (unlimited) to MAX_INT."""
    number = _integer(field, value, digits=_QUOTA, pattern="^-?[0-9]+$", minimum=-1)
    if number > MAX_INT:
        raise invalid(field, value, f"{value!r} is greater than the maximum of {MAX_INT}")
    return number


def non_negative_integer(field: str, value: Any) -> int:
    """Nova's ``non_negative_integer``: an integer, or a string of ASCII digits, at least 0."""
    return _integer(field, value, digits=_DIGITS, pattern="^[0-9]*$", minimum=0)
