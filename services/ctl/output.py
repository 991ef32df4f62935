"""What the verbs print, as the ``flux`` CLI prints it: its table (tablewriter with a tab
between padded cells, headers upper case), its progress lines on stderr (► action, ✔ success,
◎ waiting, ✗ failure), its truncation of hex digests, and Kubernetes' human ages.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from conveyor.shared import gostrconv

_HEX = re.compile(r"\b[a-f0-9]{40,128}\b", re.ASCII)  # flux2's internal/utils.TruncateHex


def truncate_hex(text: str) -> str:
    """``text`` with every 40 to 128 hex digit word cut to its first 8 (a commit, a digest)."""
    return _HEX.sub(lambda m: m.group(0)[:8], text)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Rows as flux prints them: each cell padded to its column's width, a tab between
    columns; no header when ``header`` is empty. A cell's newlines become spaces."""
    cells = [[" ".join(str(c).split("\n")) for c in row] for row in rows]
    lines = ([[h.upper() for h in header]] if header else []) + cells
    if not lines:
        return
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for line in lines:
        padded = [c.ljust(w) for c, w in zip(line[:-1], widths, strict=False)] + [line[-1]]
        print("\t".join(padded), file=out)


class Log:
    """flux's stderr logger."""

    def __init__(self, err: TextIO | None = None) -> None:
        self.err = err if err is not None else sys.stderr

    def action(self, text: str) -> None:
        print(f"► {text}", file=self.err, flush=True)

    def waiting(self, text: str) -> None:
        print(f"◎ {text}", file=self.err, flush=True)

    def success(self, text: str) -> None:
        print(f"✔ {text}", file=self.err, flush=True)

    def failure(self, text: str) -> None:
        print(f"✗ {text}", file=self.err, flush=True)


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration`` (what kubectl and flux show as an age)."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{hours // 24 // 365}y"


def go_duration(seconds: float) -> str:
    """A whole number of seconds as Go's ``time.Duration.String`` writes it (``5m0s``, ``30s``):
    how flux names its timeout."""
    return gostrconv.go_duration(int(seconds) * 1_000_000_000)


def dump(data: Any, output: str, out: TextIO) -> None:
    """``data`` as ``-o json`` (indented as kubectl does) or ``-o yaml``."""
    if output == "json":
        print(json.dumps(data, indent=4), file=out)
        return
    import yaml  # only for -o yaml

    print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n"), file=out)
