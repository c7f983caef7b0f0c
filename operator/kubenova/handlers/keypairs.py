"""Keypair status: fingerprints of a given public key, or a generated key whose private half is
kept in a Secret of the Keypair's namespace.

An invalid public key gets Nova's fault ("Keypair data is invalid: failed to generate
fingerprint") and a Ready=False condition; nothing is retried, since only a new key can fix it.
A generated key is made once: the Secret (owned by the Keypair, so it goes when the Keypair goes)
is the record, and a restart reads the key back from it instead of generating another.

The status is built by :mod:`kubenova.keypairs` and the Secret read and made through
:mod:`kubenova.kube.secrets`; this module only chooses between them.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from kubenova import conditions, keypairs, metrics
from kubenova.api.common import API_VERSION, GROUP, VERSION
from kubenova.handlers import common, state
from kubenova.kube import client as kube
from kubenova.kube import resources, secrets

log = logging.getLogger(__name__)


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
    desired: dict[str, Any]
    try:
        public_key, secret = spec.get("publicKey"), None
        if not public_key:
            public_key, secret = await _generated_key(memo, body, name, namespace, key_type)
    except keypairs.InvalidKeypair as exc:
        desired = keypairs.invalid_status(str(exc), previous=status, generation=generation, now=now)
    else:
        desired = keypairs.status(
            key_type=key_type, public_key=public_key, secret=secret, previous=status, generation=generation, now=now
        )
    if conditions.differs(status, desired):
        # Deleted meanwhile (its namespace too, say): there is no status left to write.
        await kube.patch_status_if_exists(state.of(memo).client, resources.Keypair, name, desired, namespace=namespace)


async def _generated_key(memo: kopf.Memo, body: kopf.Body, name: str, namespace: str, key_type: str) -> tuple[str, str]:
    """The public key of this Keypair's generated pair and its Secret, generating it on first use."""
    client = state.of(memo).client
    sname = keypairs.secret_name(name)
    owner = secrets.Owner(API_VERSION, "Keypair", name, body["metadata"]["uid"])
    try:
        data = await secrets.owned_data(client, sname, namespace, owner)
    except secrets.NotOwned as exc:
        raise keypairs.InvalidKeypair(
            f"Secret {sname} exists and does not belong to this Keypair; delete it or give spec.publicKey"
        ) from exc
    if data is None:
        pair = keypairs.generate(key_type, subject=namespace)
        secret_type, fields = keypairs.secret_contents(key_type, pair)
        data = await secrets.create_owned(
            client,
            sname,
            namespace,
            owner,
            secret_type=secret_type,
            data=fields,
            labels=keypairs.secret_labels(name),
        )
        log.info("keypair %s/%s: generated a %s key; private key in Secret %s", namespace, name, key_type, sname)
    return data[keypairs.public_field(key_type)], sname
