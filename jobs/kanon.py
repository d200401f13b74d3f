"""k-anonymity of an extract: the size of the smallest group of rows sharing every quasi-identifier value.

Pure. Rows are counted one at a time, so memory grows with the number of distinct groups, never with the rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable


class GroupSizes:
    """Counts rows per equivalence class (the tuple of a row's quasi-identifier values)."""

    def __init__(self) -> None:
        self._sizes: Counter[tuple[Hashable, ...]] = Counter()
        self.rows = 0

    def add(self, key: tuple[Hashable, ...]) -> None:
        self._sizes[key] += 1
        self.rows += 1

    @property
    def groups(self) -> int:
        return len(self._sizes)

    @property
    def k(self) -> int | None:
        """The smallest class size; None when there is no row (no one to single out)."""
        return min(self._sizes.values()) if self._sizes else None

    def below(self, k: int) -> int:
        """How many rows sit in classes smaller than `k` (what a stricter generalisation must absorb)."""
        return sum(size for size in self._sizes.values() if size < k)


def smallest_group(keys: Iterable[tuple[Hashable, ...]]) -> int | None:
    """k over `keys`, one tuple of quasi-identifier values per row."""
    sizes = GroupSizes()
    for key in keys:
        sizes.add(key)
    return sizes.k
