# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The attributes every module of hybridnodes.eks documents: how it behaves in check mode and in diff mode.

DOCUMENTATION gives what each attribute means; a module extends it and says in its own ``attributes`` how far it
supports each (``support`` of full, partial, none or N/A, and ``details`` of its own). INFO_MODULE is for the
modules that only read: they run alike in check mode and have nothing to show as a diff. The attributes schema is
the one ansible-test's validate-modules checks (description and support are required for every attribute).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Runs with C(--check), predicting C(changed) and what would change without changing anything.
  diff_mode:
    description: With C(--diff), returns the managed state before and after the change (or the predicted change in
      check mode).
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: Only reads, so it runs the same with C(--check).
  diff_mode:
    support: N/A
    details: Changes nothing, so there is no diff to show.
"""
