"""Keeping the static filters' verdicts with the hosts changes no decision."""

from __future__ import annotations

import random

from bench.scheduler import hosts, requests
from kubenova.scheduling.claims import Ledger
from kubenova.scheduling.model import Hosts
from kubenova.scheduling.scheduler import choose_and_claim


def test_reused_hosts_decide_as_fresh_ones() -> None:
    states = hosts(300)
    reused, kept, fresh = Hosts(states), Ledger(), Ledger()
    for r in requests(600, random.Random(7)):
        a = choose_and_claim(r, reused, kept)
        b = choose_and_claim(r, Hosts(states), fresh)
        assert a == b
    assert reused.static  # the verdicts were kept, per kind of request
