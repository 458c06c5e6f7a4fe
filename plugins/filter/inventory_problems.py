# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Every problem of a hybridnodes.eks inventory (documented in inventory_problems.yml).

The filter only gathers the variables the rules read (the controller's, and
those of every host of the group hybrid_nodes) as plain data; the rules are
module_utils.inventory_rules.check_inventory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleError, AnsibleFilterError

from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import cidr, inventory_rules


def _options(role_specs):
    """{role: options} from {role: argument_specs file content} or from {role: options}."""
    options = {}
    for role, spec in (role_specs or {}).items():
        if isinstance(spec, dict) and "argument_specs" in spec:
            spec = spec["argument_specs"]
        if isinstance(spec, dict) and "main" in spec:
            spec = spec["main"]
        if isinstance(spec, dict) and "options" in spec:
            spec = spec["options"]
        options[role] = dict(spec or {})
    return options


def _gather(host, variables, wanted):
    """The wanted variables of one host, templated, as plain data; a variable that cannot be templated is a problem."""
    values = {}
    problems = []
    for name in list(variables.keys()):
        if not (name.startswith("hybrid_") or name in wanted):
            continue
        try:
            values[name] = variables[name]
        except AnsibleError as exc:
            problems.append(cidr.problem(
                "template", "%s: %s cannot be evaluated: %s" % (host, name, str(exc).splitlines()[0]),
                "Fix the template of %s or define what it refers to." % name, variable=name, host=host))
    return values, problems


def inventory_problems(hostvars, groups, role_specs=None, role_defaults=None, controller="localhost",
                       node_group=inventory_rules.NODE_GROUP):
    """Every problem of the inventory: see module_utils.inventory_rules.check_inventory."""
    options = _options(role_specs)
    wanted = set(inventory_rules.HOST_VARIABLES)
    for role_options in options.values():
        wanted.update(role_options)
    try:
        cluster, problems = _gather(controller, hostvars[controller], wanted)
        hosts = {}
        for host in (groups or {}).get(node_group, []):
            hosts[host], found = _gather(host, hostvars[host], wanted)
            problems.extend(found)
        problems.extend(inventory_rules.check_inventory(cluster, hosts, role_specs=options, role_defaults=role_defaults))
    except cidr.MissingNetaddr as exc:
        raise AnsibleFilterError(str(exc)) from exc
    return problems


class FilterModule:
    """hybridnodes.eks inventory filter."""

    def filters(self):
        return {"inventory_problems": inventory_problems}
