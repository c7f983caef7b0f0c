"""kopf handlers: thin glue that parses a body, calls the pure core and hands the result to
:mod:`kubenova.kube`. Importing this package registers them all (the admission webhook's only
when the operator serves it: :func:`kubenova.operator.run`).
"""

from kubenova.handlers import (
    flavors,
    groups,
    hosts,
    images,
    indexes,
    keypairs,
    metering,
    placement,
    quotas,
    securitygroups,
    serveractions,
    servers,
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
    "placement",
    "quotas",
    "securitygroups",
    "serveractions",
    "servers",
    "volumes",
]
