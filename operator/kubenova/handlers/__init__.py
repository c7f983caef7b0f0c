"""kopf handlers: thin glue that parses a body, calls the pure core and hands the result to
:mod:`kubenova.kube`. Importing this package registers them all.
"""

from kubenova.handlers import flavors, groups, hosts, keypairs, metering, placement, quotas, serveractions, servers

__all__ = ["flavors", "groups", "hosts", "keypairs", "metering", "placement", "quotas", "serveractions", "servers"]
