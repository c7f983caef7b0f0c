"""Nova's microversions: the range served, and the version a request asks for.

The request header is ``OpenStack-API-Version: compute 2.X`` or the legacy
``X-OpenStack-Nova-API-Version: 2.X``; ``latest`` is the maximum, no header is 2.1 (Nova's
default), a version outside the range is 406 and one that does not parse is 400
(``nova/api/openstack/wsgi.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from kubenova.compute_api.errors import NovaError


class Version(NamedTuple):
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, text: str) -> bool:
        return self >= parse(text)


MIN = Version(2, 1)
MAX = Version(2, 100)
"""2.100 is what openstacksdk asks for every server call; Nova itself is at 2.104."""

_VERSION = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
"""Nova's format (``api_version_request.py``): no leading zeros, so ``2.01`` is malformed (400)."""


def parse(text: str) -> Version:
    m = _VERSION.match(text)
    if not m:
        raise ValueError(text)
    return Version(int(m.group(1)), int(m.group(2)))


def header_version(headers: Mapping[str, str], service: str = "compute") -> str | None:
    """The version string the headers name for ``service``, as ``microversion_parse`` reads them
    for Nova: the last ``<service> <version>`` of ``OpenStack-API-Version`` (comma-separated);
    else the last comma-separated part of ``X-OpenStack-Nova-API-Version``; else None."""
    modern = headers.get("OpenStack-API-Version")
    if modern:
        for part in reversed(modern.split(",")):
            words = part.strip().split(None, 1)
            if len(words) == 2 and words[0].lower() == service.lower() and words[1].strip():
                return words[1].strip()
    legacy = headers.get("X-OpenStack-Nova-API-Version")
    if legacy is not None:
        return legacy.split(",")[-1].strip()
    return None


def requested(headers: Mapping[str, str], service: str = "compute") -> Version:
    """The version a request asks for (see the module's docstring)."""
    text = header_version(headers, service)
    if text is None:
        return MIN
    if text == "latest":  # Nova's exact word (wsgi.Request.set_api_version_request)
        return MAX
    try:
        version = parse(text)
    except ValueError:
        raise NovaError(
            400, f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."
        ) from None
    if not MIN <= version <= MAX:
        raise NovaError(
            406,
            f"Version {version} is not supported by the API. Minimum is {MIN} and maximum is {MAX}.",
        )
    return version


def response_headers(version: Version) -> dict[str, str]:
    """What every compute response says of its version (Nova echoes both headers and Vary)."""
    return {
        "OpenStack-API-Version": f"compute {version}",
        "X-OpenStack-Nova-API-Version": str(version),
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    }
