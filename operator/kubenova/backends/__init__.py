"""Workload backends: how a placed Server becomes a KubeVirt VirtualMachine or a Pod, and how
that workload's state maps back to Nova's.

Everything here is pure: :mod:`placement` describes a placed server, each backend renders the
workload for it and observes one, and says which Nova actions it can do. The handlers create,
replace and delete the rendered objects through :mod:`kubenova.kube`.
"""
