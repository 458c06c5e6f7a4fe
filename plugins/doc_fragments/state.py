# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The O(state) option of the modules that make a resource exist or not (V(present), the default, or V(absent)).

A module that extends it may give O(state) a description of its own (what V(present) and V(absent) mean for its
resource); the type, the default and the choices stay these.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  state:
    description:
      - Whether the resource should exist.
    type: str
    default: present
    choices: [present, absent]
"""
