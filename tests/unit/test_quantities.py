"""Kubernetes quantities as Nodes report them."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kubenova import quantities


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("32", 32), ("500m", Fraction(1, 2)), ("128Gi", 128 * 2**30), ("1Ti", 2**40), ("1k", 1000),
        ("1e3", 1000), ("2.5Gi", Fraction(5, 2) * 2**30), ("64M", 64_000_000), (8, 8),
    ],
)  # fmt: skip
def test_parse(text: str, value: Fraction) -> None:
    assert quantities.parse(text) == value


def test_whole_units_round_down() -> None:
    assert quantities.to_int("1536Mi", quantities.GIB) == 1
    assert quantities.to_int("131072Mi", quantities.MIB) == 131072


@pytest.mark.parametrize("bad", ["", "Gi", "1Xi", "one"])
def test_garbage_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantities.parse(bad)
