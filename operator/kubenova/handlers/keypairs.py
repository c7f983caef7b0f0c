"""Keypair status: fingerprints of a given public key, or a generated key whose private half is
kept in a Secret of the Keypair's namespace.

An invalid public key gets Nova's fault ("Keypair data is invalid: failed to generate
fingerprint") and a Ready=False condition; nothing is retried, since only a new key can fix it.
A generated key is made once: the Secret (owned by the Keypair, so it goes when the Keypair goes)
is the record, and a restart reads the key back from it instead of generating another.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import kopf
from lightkube import ApiError
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.core_v1 import Secret

from kubenova import conditions, keypairs, metrics
from kubenova.api.common import GROUP, VERSION
from kubenova.handlers import common, state
from kubenova.kube import client as kube
from kubenova.kube import resources

log = logging.getLogger(__name__)


def secret_name(keypair: str) -> str:
    return f"keypair-{keypair}"


@kopf.on.event(GROUP, VERSION, "keypairs", id="keypair-event")
@metrics.timed("Keypair")
async def keypair_event(
    *,
    event: kopf.RawEvent,
    body: kopf.Body,
    name: str,
    namespace: str | None,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    if event["type"] == "DELETED" or meta.get("deletionTimestamp") or namespace is None:
        return
    generation = meta.get("generation")
    if status.get("observedGeneration") == generation and status.get("fingerprint"):
        return  # nothing new: the spec is immutable once handled
    key_type = spec.get("type", "ssh")
    now = common.now()
    patch: dict[str, Any]
    try:
        public_key, secret = spec.get("publicKey"), None
        if not public_key:
            public_key, secret = await _generated_key(memo, body, name, namespace, key_type)
        prints = keypairs.fingerprints(public_key, key_type)
    except keypairs.InvalidKeypair as exc:
        patch = {
            "observedGeneration": generation,
            "fingerprint": None,
            "fingerprintSha256": None,
            "fault": {"code": 400, "message": str(exc), "created": now},
            "conditions": conditions.set_condition(
                status.get("conditions", []),
                type="Ready",
                status=False,
                reason="InvalidPublicKey",
                message=str(exc),
                generation=generation,
                now=now,
            ),
        }
    else:
        patch = {
            "observedGeneration": generation,
            "type": key_type,
            "publicKey": public_key,
            "fingerprint": prints.md5,
            "fingerprintSha256": prints.sha256,
            "privateKeySecretRef": {"name": secret} if secret else None,
            "fault": None,
            "conditions": conditions.set_condition(
                status.get("conditions", []),
                type="Ready",
                status=True,
                reason="Generated" if secret else "Imported",
                message=f"The private key is in Secret {secret}." if secret else "The public key is valid.",
                generation=generation,
                now=now,
            ),
        }
    if conditions.differs(status, patch):
        await kube.patch_status(state.of(memo).client, resources.Keypair, name, patch, namespace=namespace)


async def _generated_key(memo: kopf.Memo, body: kopf.Body, name: str, namespace: str, key_type: str) -> tuple[str, str]:
    """The public key of this Keypair's generated pair, generating it on first use."""
    client = state.of(memo).client
    sname = secret_name(name)
    try:
        existing = await client.get(Secret, sname, namespace=namespace)
    except ApiError as exc:
        if not kube.is_not_found(exc):
            raise
    else:
        owners = existing.metadata.ownerReferences if existing.metadata else None
        if not owners or all(o.uid != body["metadata"]["uid"] for o in owners):
            raise keypairs.InvalidKeypair(
                f"Secret {sname} exists and does not belong to this Keypair; delete it or give spec.publicKey"
            )
        data = existing.data or {}
        return base64.b64decode(data[_public_field(key_type)]).decode(), sname
    pair = keypairs.generate(key_type, subject=namespace)
    if key_type == "x509":
        secret_type, fields = "kubernetes.io/tls", {"tls.crt": pair.public_key, "tls.key": pair.private_key}
    else:
        secret_type = "kubernetes.io/ssh-auth"
        fields = {"ssh-privatekey": pair.private_key, "ssh-publickey": pair.public_key}
    secret = Secret(
        metadata=ObjectMeta(
            name=sname,
            namespace=namespace,
            labels={"app.kubernetes.io/managed-by": "kubenova", f"{GROUP}/keypair": name},
            ownerReferences=[
                OwnerReference(
                    apiVersion=f"{GROUP}/{VERSION}",
                    kind="Keypair",
                    name=name,
                    uid=body["metadata"]["uid"],
                    controller=True,
                    blockOwnerDeletion=True,
                )
            ],
        ),
        type=secret_type,
        stringData=fields,
    )
    created = await kube.create_or_adopt(client, secret)
    log.info("keypair %s/%s: generated a %s key; private key in Secret %s", namespace, name, key_type, sname)
    if created.data:  # adopted a Secret a previous attempt made
        return base64.b64decode(created.data[_public_field(key_type)]).decode(), sname
    return pair.public_key, sname


def _public_field(key_type: str) -> str:
    return "tls.crt" if key_type == "x509" else "ssh-publickey"
