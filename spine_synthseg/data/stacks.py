"""Which 2D slices form a stack: consecutive slices of one series that a volume rule may treat as one volume.

Slices form one stack when they belong to one series, their names are ``<prefix><k>`` with one prefix and
consecutive integers k (e.g. 118_t2_SPACE_slice50, ..._slice51), and they share one shape and one pixel spacing;
the slice spacing must be known (a folder's dataset.json ``slice_thickness_mm``). Anything else is a stack of one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

TRAILING_INT = re.compile(r"^(.*?)(\d+)$")


def consecutive_runs(names: Sequence[str], series: Sequence[str], shapes: Sequence[tuple],
                     spacings: Sequence[tuple[float, float]]) -> list[list[int]]:
    """Indices grouped into stacks (module docstring), each in slice order, the stacks sorted by first index."""
    groups = defaultdict(list)
    for i, (name, s, shape, spacing) in enumerate(zip(names, series, shapes, spacings)):
        m = TRAILING_INT.match(name)
        key = (s, m.group(1) if m else name, tuple(shape), tuple(spacing))
        groups[key].append((int(m.group(2)) if m else 0, i))
    out = []
    for members in groups.values():
        members.sort()
        run = [members[0][1]]
        for (k0, _), (k1, i) in zip(members, members[1:]):
            if k1 == k0 + 1:
                run.append(i)
            else:
                out.append(run)
                run = [i]
        out.append(run)
    return sorted(out)
