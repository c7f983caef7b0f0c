"""Parsing of Kubernetes resource quantities (``"32"``, ``"500m"``, ``"128Gi"``, ``"1e3"``).

Pure; used to turn a Node's capacity into a Host's vcpus, memory MiB and disk GiB.
"""

from __future__ import annotations

import re
from fractions import Fraction

_SUFFIXES: dict[str, Fraction] = {
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "": Fraction(1), "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def parse(quantity: str | int | float) -> Fraction:
    """The exact value of a quantity; raises ValueError for anything Kubernetes would refuse."""
    if isinstance(quantity, int | float):
        return Fraction(quantity)
    match = _QUANTITY.match(quantity.strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {quantity!r}")
    number, exponent, suffix = match.groups()
    value = Fraction(number) * _SUFFIXES[suffix or ""]
    if exponent:
        value *= Fraction(10) ** int(exponent[1:])
    return value


def to_int(quantity: str | int | float, unit: int = 1) -> int:
    """A quantity in whole ``unit``s, rounded down (capacity is never overstated)."""
    return int(parse(quantity) / unit)


MIB = 2**20
GIB = 2**30
