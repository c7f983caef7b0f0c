"""The OpenStack Compute API over kubenova's kinds: Nova v2.1 (with microversions), an Identity v3
subset and a read-only Image v2, served by ``kubenova api``.

Stateless: every request carries a Fernet token (:mod:`.tokens`) holding the caller's Kubernetes
bearer token, and every read and write goes to the API server with it (:mod:`kubenova.kube.caller`),
so Kubernetes RBAC decides each call. The API only writes custom resources; the operator does the
work, as for ``kubectl apply``.
"""
