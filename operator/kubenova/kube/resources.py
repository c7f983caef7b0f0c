"""lightkube resource classes for kubenova's own kinds and for KubeVirt's, which the handlers
name when they call :mod:`kubenova.kube`.

There is no KubeVirt Python client on the package registry, so its kinds are declared here as
generic resources, the same way as kubenova's.
"""

from __future__ import annotations

from lightkube.generic_resource import create_global_resource, create_namespaced_resource

from kubenova.api.common import GROUP, VERSION

Flavor = create_global_resource(GROUP, VERSION, "Flavor", "flavors")
Image = create_global_resource(GROUP, VERSION, "Image", "images")
Host = create_global_resource(GROUP, VERSION, "Host", "hosts")
Aggregate = create_global_resource(GROUP, VERSION, "Aggregate", "aggregates")
Keypair = create_namespaced_resource(GROUP, VERSION, "Keypair", "keypairs")
Server = create_namespaced_resource(GROUP, VERSION, "Server", "servers")
ServerAction = create_namespaced_resource(GROUP, VERSION, "ServerAction", "serveractions")
ServerGroup = create_namespaced_resource(GROUP, VERSION, "ServerGroup", "servergroups")
SecurityGroup = create_namespaced_resource(GROUP, VERSION, "SecurityGroup", "securitygroups")
Quota = create_namespaced_resource(GROUP, VERSION, "Quota", "quotas")
Migration = create_namespaced_resource(GROUP, VERSION, "Migration", "migrations")

VirtualMachine = create_namespaced_resource("kubevirt.io", "v1", "VirtualMachine", "virtualmachines")
DataVolume = create_namespaced_resource("cdi.kubevirt.io", "v1beta1", "DataVolume", "datavolumes")
VirtualMachineInstance = create_namespaced_resource(
    "kubevirt.io", "v1", "VirtualMachineInstance", "virtualmachineinstances"
)
VirtualMachineInstanceMigration = create_namespaced_resource(
    "kubevirt.io", "v1", "VirtualMachineInstanceMigration", "virtualmachineinstancemigrations"
)
