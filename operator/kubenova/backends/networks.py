"""A Server's networks (Nova's ``networks`` on create) as each backend attaches them: the pod
network, and secondary networks as Multus NetworkAttachmentDefinitions. Pure: the backends'
renderers call it with the networks the placed server carries, resolved against their
NetworkAttachmentDefinitions by :func:`resolve` (which :mod:`kubenova.kube.workloads` calls with
the objects it read).

* ``spec.networks`` left out, or ``[{network: auto}]`` (Nova 2.37's ``auto``): the pod network.
* ``[{network: none}]`` (Nova's ``none``): a VM gets no interface at all (and KubeVirt is told
  not to add its pod interface); a Pod still has the pod network, as Kubernetes gives every Pod
  one: nothing can take it away.
* A list: those networks in order; ``pod`` names the pod network. A VM gets only the networks
  listed; a Pod always has the pod network as its first interface, listed or not.
* A VM's NIC on a secondary network is a KubeVirt ``bridge`` binding, or ``sriov`` when the
  NetworkAttachmentDefinition's CNI config is of type ``sriov`` (or the entry asks for it); the
  pod network stays ``masquerade``. A Pod gets Multus's network-selection annotation (the JSON
  form), with ``ips`` for a fixed IP.
* A fixed IP needs an attachment whose CNI config declares the ``ips`` capability (Multus hands
  ``ips`` to such plugins only). KubeVirt's Multus network takes no ``ips``, so a kubevirt
  server cannot ask for one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

NAD_API_VERSION = "k8s.cni.cncf.io/v1"
NAD_KIND = "NetworkAttachmentDefinition"
SELECTION_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
"""Multus's network-selection annotation on a Pod."""
POD = "pod"
AUTO = "auto"
NONE = "none"
POD_NETWORK_NAME = "default"
"""The name of the pod network in a VM's spec (and in a server's addresses)."""

Interface = Literal["bridge", "sriov"]


class NetworkFault(Exception):
    """A network the server asks for cannot be given (Nova answers such a request with 400)."""


@dataclasses.dataclass(frozen=True)
class Attachment:
    """A secondary network: a NetworkAttachmentDefinition, and what the server asks of it."""

    namespace: str
    name: str
    fixed_ip: str | None = None
    interface: Interface | None = None
    """As asked, or as :func:`resolve` found the attachment to be; None until then."""

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def network_name(self, namespace: str) -> str:
        """Its name in a VM's spec and in the server's addresses: the attachment's name, with its
        namespace when it is another namespace's."""
        return self.name if self.namespace == namespace else f"{self.namespace}-{self.name}"


@dataclasses.dataclass(frozen=True)
class Networks:
    """The networks a workload gets: the pod network (first) or not, then the attachments."""

    pod: bool = True
    attachments: tuple[Attachment, ...] = ()
    resolved: bool = True
    """False while attachments have not been checked against their NetworkAttachmentDefinitions."""


DEFAULT = Networks()


def requested(spec_networks: Iterable[Mapping[str, Any]], namespace: str) -> Networks:
    """The networks ``spec.networks`` asks for (not yet resolved)."""
    entries = list(spec_networks)
    if not entries or [e.get("network") for e in entries] == [AUTO]:
        return DEFAULT
    if [e.get("network") for e in entries] == [NONE]:
        return Networks(pod=False)
    pod = any(e.get("network") == POD for e in entries)
    attachments = []
    for e in entries:
        ref = str(e.get("network"))
        if ref in (POD, AUTO, NONE):
            continue
        ns, _, name = ref.rpartition("/")
        attachments.append(Attachment(ns or namespace, name, e.get("fixedIp"), e.get("interface")))
    return Networks(pod=pod, attachments=tuple(attachments), resolved=not attachments)


def resolve(networks: Networks, nads: Mapping[str, Mapping[str, Any] | None], *, backend: str) -> Networks:
    """The networks checked against their NetworkAttachmentDefinitions (``nads`` by
    ``namespace/name``, None where there is none); raises :class:`NetworkFault` naming the first
    that cannot be given."""
    out = []
    for a in networks.attachments:
        nad = nads.get(a.ref)
        if nad is None:
            raise NetworkFault(
                f"Network {a.ref} could not be found: there is no NetworkAttachmentDefinition {a.name} in "
                f"namespace {a.namespace} (secondary networks need Multus)."
            )
        config = cni_config(nad)
        if a.fixed_ip:
            if backend == "kubevirt":
                raise NetworkFault(
                    f"Fixed IP {a.fixed_ip} on network {a.ref} cannot be requested for a kubevirt server: "
                    "KubeVirt's Multus network takes no IP request."
                )
            if not takes_ips(config):
                raise NetworkFault(
                    f"Network {a.ref} does not allow a fixed IP: its CNI config does not declare the 'ips' "
                    "capability, so Multus cannot pass one to its IPAM."
                )
        interface: Interface = a.interface or ("sriov" if is_sriov(config) else "bridge")
        out.append(dataclasses.replace(a, interface=interface))
    return Networks(pod=networks.pod, attachments=tuple(out))


def cni_config(nad: Mapping[str, Any]) -> dict[str, Any]:
    """A NetworkAttachmentDefinition's CNI config (its ``spec.config`` JSON); {} if it has none
    (Multus then reads a file of the attachment's name on the node) or it is not JSON."""
    try:
        config = json.loads((nad.get("spec") or {}).get("config") or "{}")
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}


def _plugins(config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A config's plugins: a conflist's list, or the single plugin config."""
    plugins = config.get("plugins")
    if isinstance(plugins, list):
        return [p for p in plugins if isinstance(p, dict)]
    return [config]


def takes_ips(config: Mapping[str, Any]) -> bool:
    return any((p.get("capabilities") or {}).get("ips") is True for p in _plugins(config))


def is_sriov(config: Mapping[str, Any]) -> bool:
    return any(p.get("type") == "sriov" for p in _plugins(config))


# --- the VM (KubeVirt) -----------------------------------------------------------------------


def vm_interfaces(networks: Networks, namespace: str) -> list[dict[str, Any]]:
    """``domain.devices.interfaces``: masquerade on the pod network, bridge or sriov on the rest."""
    out: list[dict[str, Any]] = [{"name": POD_NETWORK_NAME, "masquerade": {}}] if networks.pod else []
    for a in networks.attachments:
        out.append({"name": a.network_name(namespace), a.interface or "bridge": {}})
    return out


def vm_networks(networks: Networks, namespace: str) -> list[dict[str, Any]]:
    """``spec.networks``: the pod network and each attachment as a Multus network."""
    out: list[dict[str, Any]] = [{"name": POD_NETWORK_NAME, "pod": {}}] if networks.pod else []
    for a in networks.attachments:
        name = a.name if a.namespace == namespace else a.ref
        out.append({"name": a.network_name(namespace), "multus": {"networkName": name}})
    return out


# --- the Pod -----------------------------------------------------------------------------------


def selection(networks: Networks, namespace: str) -> list[dict[str, Any]]:
    """Multus's network-selection elements for a Pod (``net1``, ``net2``... as Multus names them)."""
    out: list[dict[str, Any]] = []
    for i, a in enumerate(networks.attachments, start=1):
        element: dict[str, Any] = {"name": a.name, "namespace": a.namespace, "interface": f"net{i}"}
        if a.fixed_ip:
            element["ips"] = [a.fixed_ip]
        out.append(element)
    return out


def pod_annotations(networks: Networks, namespace: str) -> dict[str, str]:
    """The Pod's network-selection annotation, when it has secondary networks."""
    elements = selection(networks, namespace)
    return {SELECTION_ANNOTATION: json.dumps(elements, separators=(",", ":"))} if elements else {}
