"""Graft the methods of a lab mixin class onto one of moto's classes."""

from __future__ import annotations


def graft(mixin: type, target: type) -> None:
    """Copy every non-dunder attribute of ``mixin`` onto ``target`` (adding or replacing)."""
    for name, member in vars(mixin).items():
        if not name.startswith("__"):
            setattr(target, name, member)
