"""The Secrets kubenova owns: read back only when owned, adopted (never overwritten) when a create
finds one already made, and handed over as text. A stand-in for lightkube's client answers as the
API server would (404, 409); the real calls run in tests/integration/test_flavors_and_keypairs.py.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from lightkube import ApiError
from lightkube.models import meta_v1
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.core_v1 import Secret

from kubenova.kube import secrets

OWNER = secrets.Owner("compute.kubenova.io/v1alpha1", "Keypair", "k", "uid-1")


class Client:
    """Just the get and create of lightkube's AsyncClient, over a dict of Secrets."""

    def __init__(self, *stored: Secret) -> None:
        self.stored = {(s.metadata.namespace, s.metadata.name): s for s in stored if s.metadata}
        self.created: list[Secret] = []

    async def get(self, res: Any, name: str, *, namespace: str) -> Secret:
        if (namespace, name) not in self.stored:
            raise ApiError(status=meta_v1.Status(code=404, message="not found"))
        return self.stored[(namespace, name)]

    async def create(self, obj: Secret) -> Secret:
        assert obj.metadata is not None
        if (obj.metadata.namespace, obj.metadata.name) in self.stored:
            raise ApiError(status=meta_v1.Status(code=409, message="exists"))
        self.created.append(obj)
        data = {k: base64.b64encode(v.encode()).decode() for k, v in (obj.stringData or {}).items()}
        stored = Secret(metadata=obj.metadata, type=obj.type, data=data)
        self.stored[(obj.metadata.namespace, obj.metadata.name)] = stored
        return stored


def secret(name: str, owner_uid: str | None, **data: str) -> Secret:
    owners = [OwnerReference(apiVersion="v1", kind="Keypair", name="k", uid=owner_uid)] if owner_uid else None
    return Secret(
        metadata=ObjectMeta(name=name, namespace="ns", ownerReferences=owners),
        data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_missing_secret_is_none() -> None:
    assert run(secrets.owned_data(Client(), "s", "ns", OWNER)) is None  # type: ignore[arg-type]


def test_an_owned_secret_is_read_back_as_text() -> None:
    client = Client(secret("s", "uid-1", key="value"))
    assert run(secrets.owned_data(client, "s", "ns", OWNER)) == {"key": "value"}  # type: ignore[arg-type]


@pytest.mark.parametrize("owner_uid", [None, "someone-else"])
def test_a_secret_that_is_not_ours_is_never_read(owner_uid: str | None) -> None:
    with pytest.raises(secrets.NotOwned):
        run(secrets.owned_data(Client(secret("s", owner_uid, key="theirs")), "s", "ns", OWNER))  # type: ignore[arg-type]


def test_a_created_secret_is_owned_by_its_controller_and_labelled() -> None:
    client = Client()
    data = run(
        secrets.create_owned(
            client,  # type: ignore[arg-type]
            "s",
            "ns",
            OWNER,
            secret_type="kubernetes.io/ssh-auth",
            data={"ssh-publickey": "PUBLIC"},
            labels={"app.kubernetes.io/managed-by": "kubenova"},
        )
    )
    assert data == {"ssh-publickey": "PUBLIC"}
    (made,) = client.created
    assert made.type == "kubernetes.io/ssh-auth"
    assert made.metadata is not None
    assert made.metadata.labels == {"app.kubernetes.io/managed-by": "kubenova"}
    (ref,) = made.metadata.ownerReferences or []
    assert (ref.apiVersion, ref.kind, ref.name, ref.uid) == (OWNER.api_version, OWNER.kind, OWNER.name, OWNER.uid)
    assert ref.controller
    assert ref.blockOwnerDeletion


def test_a_create_that_finds_an_earlier_attempts_secret_adopts_its_data() -> None:
    client = Client(secret("s", "uid-1", **{"ssh-publickey": "FIRST"}))
    data = run(
        secrets.create_owned(
            client,  # type: ignore[arg-type]
            "s",
            "ns",
            OWNER,
            secret_type="kubernetes.io/ssh-auth",
            data={"ssh-publickey": "SECOND"},
            labels={},
        )
    )
    assert data == {"ssh-publickey": "FIRST"}
    assert client.created == []
