"""Read-only sequences whose items are found or made only when asked for.

A saved library makes an article when a question reads it, not at load time
(:mod:`bot.core.saved`), and a library changed in segments reads its segments' lists as one
without copying them (:mod:`bot.core.live`): both are sequences of this kind.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TypeVar, overload

T = TypeVar("T")


class ItemSequence(Sequence[T]):
    """A read-only sequence whose item ``index`` is :meth:`_item`'s, asked for in range."""

    @abstractmethod
    def _item(self, index: int) -> T:
        """Item ``index``, which is in range."""

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self._item(i) for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"item {index} of {len(self)}")
        return self._item(index % len(self))
