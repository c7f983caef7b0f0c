"""kopf's settings that keep the operator alive through an API server's absence."""

from __future__ import annotations

import itertools

from kubenova.operator import WatchBackoffs


def test_a_failed_request_is_tried_again_for_good_each_from_the_first_delay() -> None:
    backoffs = WatchBackoffs()
    first = list(itertools.islice(backoffs, 100))
    assert first[:8] == [1, 1, 2, 3, 5, 8, 13, 21]
    assert set(first[8:]) == {30}  # never exhausted: kopf would stop the operator
    assert list(itertools.islice(backoffs, 3)) == [1, 1, 2]  # a new request starts over
