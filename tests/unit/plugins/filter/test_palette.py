# -*- coding: utf-8 -*-
"""Palette artefact checks: user-data install block and token, CanvOS .arg."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hybridnodes.eks.plugins.filter.palette import FilterModule

FILTERS = FilterModule().filters()
GOOD = """
edgeHostToken: abc
install:
  extra-dirs-rootfs: [/eks-hybrid]
  bind_mounts: [/eks-hybrid, /etc/aws, /etc/containerd, /etc/eks, /etc/iam, /etc/modules-load.d, /var/lib/amazon]
"""
ARG = {"K8S_DISTRIBUTION": "nodeadm", "K8S_VERSION": "1.31.0", "IMAGE_REGISTRY": "ttl.sh", "IMAGE_REPO": "edge",
       "OS_DISTRIBUTION": "ubuntu", "OS_VERSION": "22.04", "CUSTOM_TAG": "eks", "ISO_NAME": "eks-hybrid", "ARCH": "amd64"}


def codes(problems):
    return [p["code"] for p in problems]


def test_good_user_data_passes_both_modes():
    assert FILTERS["palette_user_data_problems"](GOOD) == []
    assert FILTERS["palette_user_data_problems"]({"edgeHostToken": "t"}, mode="agent") == []


def test_user_data_problems_all_at_once():
    text = GOOD.replace("edgeHostToken: abc", "stylus: {installationMode: airgap}").replace(", /etc/iam", "")
    text = text.replace("[/eks-hybrid]", "[]")
    problems = FILTERS["palette_user_data_problems"](text)
    assert codes(problems) == ["token-missing", "not-connected", "bind-mounts", "extra-dirs"]
    assert problems[2]["message"] == "install.bind_mounts lacks /etc/iam"


def test_user_data_errors():
    with pytest.raises(AnsibleFilterError):
        FILTERS["palette_user_data_problems"]("- a list")
    with pytest.raises(AnsibleFilterError):
        FILTERS["palette_user_data_problems"](GOOD, mode="cloud")


def test_arg():
    assert FILTERS["palette_arg_problems"](ARG) == []
    bad = dict(ARG, K8S_DISTRIBUTION="k3s", K8S_VERSION="1.32.0", ARCH="x86_64", OS_VERSION="", ISO_NAME="")
    expected = ["arg-missing", "distribution", "k8s-version", "arch", "os-version"]
    assert codes(FILTERS["palette_arg_problems"](bad)) == expected


SHA = "a" * 64
INSTALLER = "https://github.com/spectrocloud/agent-mode/releases/download/v4.7.3/palette-agent-install.sh"
LATEST = "https://github.com/spectrocloud/agent-mode/releases/latest/download/palette-agent-install.sh"


def test_agent_install_https_passes_pinned_or_with_checksum():
    check = FILTERS["palette_agent_install_problems"]
    assert check(INSTALLER) == []
    assert check(INSTALLER, sha256=SHA.upper()) == []
    assert check(LATEST, sha256=SHA) == []


def test_agent_install_from_latest_needs_a_checksum():
    # latest changes under a running fleet: a release URL, or a sha256, pins what runs as root.
    problems = FILTERS["palette_agent_install_problems"](LATEST)
    assert codes(problems) == ["installer-unpinned"] and "releases/download/vX.Y.Z" in problems[0]["fix"]


def test_agent_install_plain_http_needs_the_option_and_a_checksum():
    check = FILTERS["palette_agent_install_problems"]
    url = "http://10.200.0.2:8080/palette/palette-agent-install.sh"
    assert codes(check(url, sha256=SHA)) == ["installer-http"]
    assert codes(check(url, allow_http=True)) == ["installer-http-checksum"]
    assert check(url, sha256=SHA, allow_http=True) == []


def test_agent_install_problems_all_at_once():
    check = FILTERS["palette_agent_install_problems"]
    problems = check("", sha256="not-hex", mode="appliance")
    assert codes(problems) == ["agent-mode", "installer-url", "installer-sha256"]
    assert all(p["fix"] for p in problems)
    assert codes(check("ftp://mirror/palette-agent-install.sh")) == ["installer-url"]
    assert codes(check("https:///palette-agent-install.sh")) == ["installer-url"]
    assert codes(check(INSTALLER, sha256=SHA[:-1])) == ["installer-sha256"]


def test_a_yaml_error_names_line_and_column_but_never_quotes_the_token():
    token = "tok-9f8e7d6c5b4a39281706"
    text = "stylus:\n  site:\n    edgeHostToken: %s: broken\n    paletteEndpoint: api.spectrocloud.com\n" % token
    with pytest.raises(AnsibleFilterError) as caught:
        FILTERS["palette_user_data_problems"](text)
    message = str(caught.value)
    assert "line 3, column" in message and token not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
