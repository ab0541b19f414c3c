"""Giving freed native memory back to the system.

Deleting a superseded version's rulesets frees the C core's pools, but glibc keeps freed
heap pages for reuse, so a worker's resident size would still creep up with every
approval. ``malloc_trim`` returns them; it exists only in glibc, and elsewhere this is a
no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def return_free_memory() -> None:
    """Hand the allocator's free pages back to the system, where the C library can."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
