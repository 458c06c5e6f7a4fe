"""Offset-based NextToken pagination shared by the lab's extensions."""

from __future__ import annotations

from typing import Any, Sequence


def page(items: Sequence[Any], token: str | None, size: int | None, default: int) -> tuple[list[Any], str | None]:
    """Return one page of items and the token of the next page (None on the last)."""
    try:
        start = int(token or 0)
    except ValueError:
        start = 0
    end = start + (size or default)
    return list(items[start:end]), (str(end) if end < len(items) else None)
