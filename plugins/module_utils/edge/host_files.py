# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading the edge host's own files, for the modules that run there (hybrid_preflight, static_route).

A file that is absent or unreadable reads as None, so the callers decide what a missing /proc or /etc file
means. Runs on the managed host: standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def read_text(path):
    """The text of ``path``, or None when it cannot be opened or read."""
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None
