# -*- coding: utf-8 -*-
"""route_table_export: the Destination / Next hop table in markdown, CSV and JSON."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hybridnodes.eks.plugins.filter.route_table import FilterModule

ROUTES = [{"destination": "10.201.0.0/25", "next_hop": "10.200.0.11", "node": "edge01"},
          {"destination": "10.201.0.128/25", "next_hop": "10.200.0.12", "node": "edge02"}]
export = FilterModule().filters()["route_table_export"]


def test_markdown_is_the_default():
    assert export(ROUTES) == ("| Destination     | Next hop    |\n"
                              "| --------------- | ----------- |\n"
                              "| 10.201.0.0/25   | 10.200.0.11 |\n"
                              "| 10.201.0.128/25 | 10.200.0.12 |\n")


def test_csv_parses_back():
    rows = list(csv.reader(io.StringIO(export(ROUTES, format="csv"))))
    assert rows == [["Destination", "Next hop"], ["10.201.0.0/25", "10.200.0.11"], ["10.201.0.128/25", "10.200.0.12"]]


def test_json_keeps_only_the_table_columns():
    assert json.loads(export(ROUTES, format="json")) == [
        {"destination": "10.201.0.0/25", "next_hop": "10.200.0.11"},
        {"destination": "10.201.0.128/25", "next_hop": "10.200.0.12"}]


def test_empty_table_has_headers():
    assert export([], format="csv") == "Destination,Next hop\n"


def test_bad_input_is_named():
    with pytest.raises(AnsibleFilterError, match="item 1"):
        export([ROUTES[0], {"destination": "10.0.0.0/8"}])
    with pytest.raises(AnsibleFilterError, match="format must be one of"):
        export(ROUTES, format="html")
