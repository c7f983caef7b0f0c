"""Nova's filters, each a predicate over (host, request, usage) under Nova's filter name.

Nova runs filters one after another, each over the hosts the previous ones kept; a host is
therefore counted against the first filter it fails. :func:`first_failing` does exactly that in
one pass per host, which is what keeps a decision fast at 10,000 hosts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kubenova.scheduling.model import HostState, RequestSpec, Usage

Filter = Callable[[HostState, RequestSpec, Usage], bool]

EXTRA_SPECS_SCOPE = "aggregate_instance_extra_specs:"
TENANT_KEY = "filter_tenant_id"


def compute(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """ComputeFilter: the host's service is enabled and up."""
    return host.enabled and host.up


def ignore_and_force(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """The request's ignore_hosts and force_host (Nova's RequestSpec fields)."""
    return host.name not in req.ignore_hosts and (req.force_host is None or host.name == req.force_host)


def availability_zone(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """AvailabilityZoneFilter."""
    return req.zone is None or host.zone == req.zone


def ram(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """Placement's MEMORY_MB check: used + requested <= (total - reserved) * ram_allocation_ratio."""
    return used.memory_mb + req.memory_mb <= host.usable_memory_mb


def core(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """Placement's VCPU check: used + requested <= total * cpu_allocation_ratio."""
    return used.vcpus + req.vcpus <= host.usable_vcpus


def disk(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """Placement's DISK_GB check: used + requested <= total * disk_allocation_ratio."""
    return used.disk_gb + req.disk_gb <= host.usable_disk_gb


def aggregate_instance_extra_specs(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """AggregateInstanceExtraSpecsFilter: every scoped (or unscoped) extra spec must match the
    metadata of one of the host's aggregates, with Nova's operators."""
    for spec, wanted in req.extra_specs.items():
        key = spec.removeprefix(EXTRA_SPECS_SCOPE)
        if key == spec and ":" in key:
            continue  # another namespace (hw:, quota:...): not this filter's
        values = host.metadata.get(key)
        if values is None or not any(matches(v, wanted) for v in values):
            return False
    return True


def tenant_isolation(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """AggregateMultiTenancyIsolation: a host whose aggregates name tenants (filter_tenant_id,
    filter_tenant_id_*) takes only those namespaces; others take anyone."""
    allowed = [v for k, vs in host.metadata.items() if k.startswith(TENANT_KEY) for v in vs]
    return not allowed or any(req.namespace in {t.strip() for t in v.split(",")} for v in allowed)


# Nova's canonical architectures (nova.objects.fields.Architecture.canonicalize), from the names
# Kubernetes (GOARCH) and images use.
ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "i386": "i686", "x86": "i686", "arm64": "aarch64", "arm": "armv7l"}
HYPERVISOR_TYPES = frozenset({"kvm", "qemu"})
"""What a kubenova host runs guests with: KubeVirt's KVM (QEMU where there is no /dev/kvm)."""
VM_MODES = frozenset({"hvm"})
"""KubeVirt runs fully virtualized guests only (Nova's hvm; "hv" is its old alias)."""
IMAGE_PROPERTIES = ("hw_architecture", "architecture", "img_hv_type", "hypervisor_type", "hw_vm_mode", "vm_mode")


def canonical_arch(name: str) -> str:
    name = name.strip().lower()
    return ARCH_ALIASES.get(name, name)


def image_properties(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """ImagePropertiesFilter: the image's hw_architecture, img_hv_type and hw_vm_mode (and their
    old names) must be what the host supports; a host that does not say its architecture
    supports no image that asks for one, as in Nova."""
    p = req.image_properties
    arch = p.get("hw_architecture") or p.get("architecture")
    if arch and (host.architecture is None or canonical_arch(arch) != host.architecture):
        return False
    hv_type = p.get("img_hv_type") or p.get("hypervisor_type")
    if hv_type and hv_type.strip().lower() not in HYPERVISOR_TYPES:
        return False
    mode = (p.get("hw_vm_mode") or p.get("vm_mode") or "").strip().lower()
    return not mode or ("hvm" if mode == "hv" else mode) in VM_MODES


def group_affinity(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """ServerGroupAffinityFilter: with members placed, only their host(s)."""
    g = req.group
    return g is None or g.policy != "affinity" or not g.member_hosts or host.name in g.member_hosts


def group_anti_affinity(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """ServerGroupAntiAffinityFilter, with max_server_per_host (Nova 2.64)."""
    g = req.group
    return g is None or g.policy != "anti-affinity" or g.member_hosts.get(host.name, 0) < g.max_server_per_host


def same_host(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """SameHostFilter."""
    return not req.same_host or host.name in req.same_host


def different_host(host: HostState, req: RequestSpec, used: Usage) -> bool:
    """DifferentHostFilter."""
    return host.name not in req.different_host


FILTERS: tuple[tuple[str, Filter], ...] = (
    ("ComputeFilter", compute),
    ("IgnoreHosts", ignore_and_force),
    ("AvailabilityZoneFilter", availability_zone),
    ("RamFilter", ram),
    ("CoreFilter", core),
    ("DiskFilter", disk),
    ("AggregateInstanceExtraSpecsFilter", aggregate_instance_extra_specs),
    ("AggregateMultiTenancyIsolation", tenant_isolation),
    ("ImagePropertiesFilter", image_properties),
    ("ServerGroupAffinityFilter", group_affinity),
    ("ServerGroupAntiAffinityFilter", group_anti_affinity),
    ("SameHostFilter", same_host),
    ("DifferentHostFilter", different_host),
)


RESOURCES = frozenset({compute, ram, core, disk})
"""Filters every request runs; :func:`kubenova.scheduling.scheduler.select` inlines them."""


def active_filters(req: RequestSpec, any_tenant_isolation: bool) -> Sequence[tuple[int, Filter]]:
    """The filters that can remove a host for this request, by their index in :data:`FILTERS`;
    the others are skipped, as their answer is always yes."""
    skip: set[Filter] = set()
    if not req.ignore_hosts and req.force_host is None:
        skip.add(ignore_and_force)
    if req.zone is None:
        skip.add(availability_zone)
    if not req.extra_specs:
        skip.add(aggregate_instance_extra_specs)
    if not any_tenant_isolation:
        skip.add(tenant_isolation)
    if not any(req.image_properties.get(k) for k in IMAGE_PROPERTIES):
        skip.add(image_properties)
    if req.group is None or req.group.policy != "affinity":
        skip.add(group_affinity)
    if req.group is None or req.group.policy != "anti-affinity":
        skip.add(group_anti_affinity)
    if not req.same_host:
        skip.add(same_host)
    if not req.different_host:
        skip.add(different_host)
    return [(i, f) for i, (_, f) in enumerate(FILTERS) if f not in skip]


def matches(value: str, wanted: str) -> bool:
    """Nova's extra-spec operators (``nova/scheduler/filters/extra_specs_ops.py``)."""
    parts = wanted.split(None, 1)
    op = parts[0] if len(parts) > 1 else ""
    arg = parts[1] if len(parts) > 1 else wanted
    if op == "<in>":
        return arg in value
    if op == "<or>":
        return value in [p.strip() for p in arg.split("<or>")]
    if op == "s==":
        return value == arg
    if op == "s!=":
        return value != arg
    if op in ("=", ">=", "<=", "==", "!="):
        try:
            a, b = float(value), float(arg)
        except ValueError:
            return False
        return {"=": a >= b, ">=": a >= b, "<=": a <= b, "==": a == b, "!=": a != b}[op]
    return value == wanted
