"""A step the API server refuses for a passing reason is retried without waiting for another
event: kopf drops a failed event handler's event, so a Server whose Pod create was refused (here
by a ValidatingAdmissionPolicy, as a namespace's missing default ServiceAccount or a
restarting kube-apiserver would) stayed in BUILD/spawning for good (found after the chaos test)."""

from __future__ import annotations

import pytest
from lightkube import Client

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from tests import kube as k
from tests import waiting
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration


def test_a_refused_pod_create_is_retried_once_the_refusal_is_gone(
    cluster: Cluster, kube: Client, operator: Operator, namespace: str, made: Made
) -> None:
    made.apply([k.flavor("transient.small", vcpus=1, ram=256)])
    # A ValidatingAdmissionPolicy refusing every Pod of the namespace while it is bound.
    policy = f"no-pods-{namespace}"
    made.apply(
        [
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
             "metadata": {"name": policy},
             "spec": {"failurePolicy": "Fail", "validations": [{"expression": "false", "message": "no pods yet"}],
                      "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                              "operations": ["CREATE"], "resources": ["pods"]}]}}},
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
             "metadata": {"name": policy},
             "spec": {"policyName": policy, "validationActions": ["Deny"],
                      "matchResources": {"namespaceSelector": {"matchLabels": {
                          "kubernetes.io/metadata.name": namespace}}}}},
        ]
    )  # fmt: skip
    probe = ["run", "probe", "-n", namespace, "--image=nginx:1.27", "--dry-run=server"]
    waiting.until(lambda: cluster.kubectl(*probe, check=False).returncode != 0, what="the policy in force")
    cluster.apply([k.server("s1", namespace, flavor="transient.small", image="nginx:1.27", backend="container")])
    srv = k.Srv(kube, namespace, "s1")
    k.wait_for(kube, "server", "s1", namespace, check=lambda s: s.get("taskState") == "spawning", what="spawning")
    assert not k.items(kube, "pod", namespace)
    cluster.kubectl("delete", "validatingadmissionpolicybinding", policy)
    waiting.until(lambda: cluster.kubectl(*probe, check=False).returncode == 0, what="the policy gone")
    # No event of the Server's follows: only the operator's own retry can build it.
    assert srv.wait("ACTIVE", timeout=120)["host"]
