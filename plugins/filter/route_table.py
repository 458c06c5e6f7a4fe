# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Destination / Next hop table of the hybrid pod routes (documented in route_table_export.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import json

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

FORMATS = ("markdown", "csv", "json")
HEADERS = ("Destination", "Next hop")


def _rows(routes):
    rows = []
    for index, route in enumerate(routes or []):
        if not isinstance(route, dict) or not route.get("destination") or not route.get("next_hop"):
            raise AnsibleFilterError(
                "route_table_export: item %d is not a route with destination and next_hop (as cilium_pod_routes_info "
                "returns them): %r" % (index, route))
        rows.append((to_text(route["destination"]), to_text(route["next_hop"])))
    return rows


def route_table_export(routes, format="markdown"):  # pylint: disable=redefined-builtin
    """Render routes [{destination, next_hop, ...}] as a markdown table, CSV or JSON text."""
    if format not in FORMATS:
        raise AnsibleFilterError("route_table_export: format must be one of %s, not %r" % (", ".join(FORMATS), format))
    rows = _rows(routes)
    if format == "json":
        return json.dumps([{"destination": dest, "next_hop": hop} for dest, hop in rows], indent=2)
    if format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADERS)
        writer.writerows(rows)
        return out.getvalue()
    widths = [max([len(HEADERS[col])] + [len(row[col]) for row in rows]) for col in (0, 1)]
    lines = ["| %s | %s |" % (HEADERS[0].ljust(widths[0]), HEADERS[1].ljust(widths[1])),
             "| %s | %s |" % ("-" * widths[0], "-" * widths[1])]
    lines.extend("| %s | %s |" % (dest.ljust(widths[0]), hop.ljust(widths[1])) for dest, hop in rows)
    return "\n".join(lines) + "\n"


class FilterModule:
    """hybridnodes.eks route table filters."""

    def filters(self):
        return {"route_table_export": route_table_export}
