"""Which Servers this process knows of are gone, though it never heard of their deletion.

Pure; used by :mod:`kubenova.handlers.vanished`, which explains when that happens.
"""

from __future__ import annotations

from collections.abc import Mapping


def candidates(known: Mapping[str, str], listed: Mapping[str, str]) -> list[str]:
    """The keys ("namespace/name") of ``known`` whose uid is not ``listed``: absent, or the name
    now another object's (deleted and made again). Only candidates: one created after the list
    was read is known and not listed, so each is read again before it is taken for gone."""
    return sorted(key for key, uid in known.items() if listed.get(key) != uid)


def gone(uid: str, found_uid: str | None) -> bool:
    """Whether the Server ``uid`` is gone, ``found_uid`` being the uid of the one read under its
    name now (None: none)."""
    return found_uid != uid
