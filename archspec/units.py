"""Numbers and shapes as the messages and the summary print them: one place, one style."""

from __future__ import annotations

import math


def count(n: int) -> str:
    """1234567 → '1,234,567'; past 10²⁴ → '1.23e+40' (Python will not print ints of over 4,300 digits)."""
    if n < 10**24:
        return f"{n:,}"
    exponent = int(math.log10(n))
    exponent -= 10**exponent > n  # log10 rounds up just below a power of ten
    return f"{n // 10 ** (exponent - 2) / 100:.2f}e+{exponent}"


def si(n: float) -> str:
    """4089184256 → '4.09 G'."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(int(n))


def dims(shape: tuple[int, ...]) -> str:
    """(64, 56, 56) → '64×56×56'."""
    return "×".join(str(d) for d in shape)


def size(n: int) -> str:
    """Bytes in binary units, as PyTorch's memory tools print them: 86121984 → '82.13 MiB'."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            hundredths = (200 * n + scale) // (2 * scale)  # rounded, in integers: any batch size fits
            return f"{count(hundredths // 100)}.{hundredths % 100:02d} {unit}"
    return f"{n} B" if n else "0"
