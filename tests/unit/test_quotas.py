"""Nova's quota rules: limits in effect, what counts, the messages, and the status views."""

from __future__ import annotations

import pytest

from kubenova import quotas
from kubenova.quotas import ServerUsage, Usage


def test_unset_limits_keep_the_defaults_and_minus_one_is_unlimited() -> None:
    limit = quotas.limits({"instances": 3, "cores": -1})
    assert limit["instances"] == 3
    assert limit["cores"] == -1
    assert limit["ram"] == 51200
    assert limit["key_pairs"] == 100
    assert quotas.limits(None, {**quotas.NOVA_DEFAULTS, "instances": 20})["instances"] == 20


def test_a_server_counts_once_it_was_accepted_with_a_flavor() -> None:
    assert quotas.server_usage("a", {}) is None
    assert quotas.server_usage("a", {"status": "ERROR", "fault": {"code": 403}}) is None
    held = quotas.server_usage("a", {"status": "ERROR", "flavor": {"vcpus": 2, "ram": 1024}})
    assert held == ServerUsage("a", 2, 1024)  # Nova counts a server in ERROR until deleted


def test_usage_counts_each_server_once() -> None:
    u = Usage.count([ServerUsage("a", 2, 512), ServerUsage("b", 1, 256), ServerUsage("a", 2, 512)], key_pairs=3)
    assert (u.instances, u.cores, u.ram, u.key_pairs, u.server_groups) == (2, 3, 768, 3, 0)


def test_novas_message_names_the_resource_and_the_numbers() -> None:
    limit = quotas.limits({"instances": 10})
    used = Usage(instances=10, cores=10, ram=10240)
    assert quotas.over_quota(quotas.server_request(1, 1024), used, limit) == (
        "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances"
    )


def test_every_resource_over_is_named_with_the_first_ones_numbers() -> None:
    limit = quotas.limits({"cores": 4, "ram": 2048})
    msg = quotas.over_quota(quotas.server_request(2, 1024), Usage(instances=1, cores=3, ram=1536), limit)
    assert msg == "Quota exceeded for cores, ram: Requested 2, but already used 3 of 4 cores, ram"


@pytest.mark.parametrize(("used", "fits"), [(9, True), (10, False)])
def test_the_last_instance_fits_and_the_next_does_not(used: int, fits: bool) -> None:
    over = quotas.over_quota({"instances": 1}, Usage(instances=used), quotas.limits({"instances": 10}))
    assert (over is None) is fits


def test_unlimited_never_refuses() -> None:
    assert quotas.over_quota({"cores": 10_000}, Usage(cores=10**6), quotas.limits({"cores": -1})) is None


def test_a_resize_needs_only_the_growth() -> None:
    assert quotas.resize_request({"vcpus": 2, "ram": 2048}, {"vcpus": 4, "ram": 1024}) == {"cores": 2, "ram": 0}


def test_per_object_limits() -> None:
    limit = quotas.limits({"metadataItems": 2, "keyPairs": 1, "serverGroups": 1, "serverGroupMembers": 2})
    assert quotas.metadata_problem({"a": "1", "b": "2"}, limit) is None
    assert (
        quotas.metadata_problem({"a": "1", "b": "2", "c": "3"}, limit) == "Maximum number of metadata items exceeds 2"
    )
    assert quotas.keypair_problem(Usage(key_pairs=1), limit) == "Quota exceeded, too many key pairs."
    assert quotas.server_group_problem(Usage(server_groups=1), limit) == "Quota exceeded, too many server groups."
    assert quotas.group_members_problem(1, limit) is None
    assert quotas.group_members_problem(2, limit) == "Quota exceeded, too many servers in group"


def test_status_has_os_quota_sets_detail_and_novas_limits_names() -> None:
    s = quotas.status(quotas.limits({"instances": 5}), Usage(instances=2, cores=3, ram=4096, server_groups=1))
    assert s["resources"]["instances"] == {"limit": 5, "inUse": 2, "reserved": 0}
    assert s["resources"]["metadata_items"]["inUse"] == 0
    assert s["absolute"] == {
        "maxTotalInstances": 5,
        "totalInstancesUsed": 2,
        "maxTotalCores": 20,
        "totalCoresUsed": 3,
        "maxTotalRAMSize": 51200,
        "totalRAMUsed": 4096,
        "maxTotalKeypairs": 100,
        "maxServerMeta": 128,
        "maxServerGroups": 10,
        "totalServerGroupsUsed": 1,
        "maxServerGroupMembers": 10,
    }


def test_only_a_server_refused_for_quota_before_it_was_accepted_waits_for_room() -> None:
    over = {"vmState": "error", "fault": {"code": 403, "message": "Quota exceeded for instances"}}
    assert quotas.refused(over)
    assert not quotas.refused({**over, "flavor": {"vcpus": 1, "ram": 512}})  # accepted: it counts, no retry
    assert not quotas.refused({**over, "fault": {"code": 500, "message": "No valid host was found."}})
    assert not quotas.refused({**over, "vmState": "active"})
