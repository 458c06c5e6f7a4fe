# -*- coding: utf-8 -*-
"""Reading the edge host's files: the text, or None for a file that is absent or cannot be opened."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge.host_files import read_text


def test_a_file_reads_as_its_text(tmp_path):
    path = tmp_path / "os-release"
    path.write_text('ID=debian\nVERSION_ID="12"\n')
    assert read_text(str(path)) == 'ID=debian\nVERSION_ID="12"\n'


def test_an_absent_file_reads_as_none(tmp_path):
    assert read_text(str(tmp_path / "missing")) is None


def test_a_directory_reads_as_none(tmp_path):
    assert read_text(str(tmp_path)) is None
