"""kopf handlers: thin glue that parses a body, calls the pure core and hands the result to
:mod:`kubenova.kube`. Importing this package registers them all (the admission webhook's only
when the operator serves it: :func:`kubenova.operator.run`).

Index functions (``@kopf.index``) are ``async`` and always return a dict, ``{}`` included. kopf
runs a sync handler in its thread pool: the Server stream's indexes see every Server event, and
those thread hops were a quarter to a third of the operator's CPU per Server built (issue 13's
profile). For the same reason the Server stream has two indexes, not six
(:mod:`kubenova.handlers.server_index`). And kopf
keeps an object's old entries when its index function returns ``None``: only ``{}`` clears them
(a server that released its claims would otherwise still count on its host). A unit test holds both.
"""

from kubenova.handlers import (
    flavors,
    groups,
    hosts,
    images,
    indexes,
    keypairs,
    metering,
    migrations,
    placement,
    quotas,
    securitygroups,
    server_index,
    serveractions,
    servers,
    vmis,
    volumes,
)

__all__ = [
    "flavors",
    "groups",
    "hosts",
    "images",
    "indexes",
    "keypairs",
    "metering",
    "migrations",
    "placement",
    "quotas",
    "securitygroups",
    "server_index",
    "serveractions",
    "servers",
    "vmis",
    "volumes",
]
