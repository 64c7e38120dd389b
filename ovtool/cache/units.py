"""Human sizes and durations: `20G`, `512M`, `1.5T`; `7d`, `12h`, `1d12h`, `90s` — and back.

Sizes are binary (K = 1024, as `du -h` prints them); `B`, `iB` suffixes are accepted. A value that
does not parse raises ValueError with the examples to use; the CLI turns it into one line, exit 2.
"""

from __future__ import annotations

import re
import time

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(text: str) -> int:
    """'20G' → 21474836480; a plain number is bytes."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size: use a number with K, M, G or T, e.g. 500M, 20G, 1.5T")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def parse_duration(text: str) -> float:
    """'7d' → 604800.0; parts add up ('1d12h'); s, m, h, d, w."""
    if not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration: use s, m, h, d or w, e.g. 90m, 12h, 7d, 1d12h")
    return float(sum(float(n) * _SECONDS[u.lower()] for n, u in _DURATION_PART.findall(text)))


def format_size(n: int) -> str:
    """21474836480 → '20.0G' (du -h style; bytes below 1K as '512B')."""
    if n < 1024:
        return f"{n}B"
    value = float(n)
    for unit in "KMGTP":
        value /= 1024
        if value < 1024 or unit == "P":
            return f"{value:.1f}{unit}"
    raise AssertionError("unreachable")


def format_time(stamp: float) -> str:
    """A local timestamp, minute precision: '2026-05-01 14:03'."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"


def format_age(seconds: float) -> str:
    """3700 → '1h'; the largest whole unit, for 'last used 3d ago'."""
    for unit, size in (("w", _SECONDS["w"]), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(max(seconds, 0))}s"
