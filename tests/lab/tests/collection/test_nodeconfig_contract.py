"""The collection's NodeConfig against nodeadm's contract, as the lab's stand-in holds it.

Every document hybridnodes.eks.nodeadm_config writes must pass `nodeadm config
check`; every document its validation refuses, the stand-in (modelled on
nodeadm's validation) must refuse too, so the module never lets through what
nodeadm would reject at init.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import nodeconfig
from hnlab.config import LAB_DIR

STANDIN = LAB_DIR / "nodeadm_standin" / "nodeadm.py"
ACTIVATION_ID = "5d9e2e0c-1b9e-4c4e-9d5e-6e1f9d0c1a2b"
CODE = "Abcdefghij0123456789"
IRA = {"nodeName": "edge01", "trustAnchorArn": "arn:aws:rolesanywhere:us-west-2:123456789012:trust-anchor/t",
       "profileArn": "arn:aws:rolesanywhere:us-west-2:123456789012:profile/p",
       "roleArn": "arn:aws:iam::123456789012:role/hybrid", "certificatePath": "/etc/iam/pki/server.pem",
       "privateKeyPath": "/etc/iam/pki/server.key"}


def config_check(tmp_path, doc):
    path = tmp_path / "nodeConfig.yaml"
    path.write_text(json.dumps(doc))
    env = dict(os.environ, NODEADM_STANDIN_ROOT=str(tmp_path / "root"))
    return subprocess.run([sys.executable, str(STANDIN), "config", "check", "-c", f"file://{path}"],
                          capture_output=True, text=True, timeout=60, env=env, check=False)


ACCEPTED = [
    nodeconfig.render("lab", "us-west-2", "ssm", ssm={"activationId": ACTIVATION_ID, "activationCode": CODE},
                      node_ip="10.200.0.11", node_labels={"pool": "a"}, node_taints=["dedicated=edge:NoSchedule"]),
    nodeconfig.render("lab", "us-west-2", "iam-ra", iam_roles_anywhere=IRA, kubelet_config={"maxPods": 58},
                      containerd_config="version = 2\n"),
]

REFUSED = [
    nodeconfig.render("lab", "us-west-2", "ssm", ssm={"activationId": "not-a-uuid", "activationCode": CODE}),
    nodeconfig.render("lab", "us-west-2", "ssm", ssm={"activationId": ACTIVATION_ID, "activationCode": "short"}),
    nodeconfig.render("lab", "us-west-2", "iam-ra", iam_roles_anywhere=dict(IRA, nodeName="n" * 65)),
    nodeconfig.render("lab", "us-west-2", "ssm", ssm={"activationId": ACTIVATION_ID, "activationCode": CODE},
                      kubelet_extra_flags=["--hostname-override=edge01"]),
    nodeconfig.render("", "us-west-2", "ssm", ssm={"activationId": ACTIVATION_ID, "activationCode": CODE}),
]


@pytest.mark.parametrize("doc", ACCEPTED, ids=["ssm", "iam-ra"])
def test_rendered_documents_pass_nodeadm_config_check(tmp_path, doc):
    assert nodeconfig.problems(doc, ["10.200.0.0/24"]) == []
    result = config_check(tmp_path, doc)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("doc", REFUSED, ids=["activation-id", "activation-code", "node-name", "hostname-override",
                                              "cluster-name"])
def test_what_the_module_refuses_nodeadm_refuses(tmp_path, doc):
    assert nodeconfig.problems(doc) != []
    result = config_check(tmp_path, doc)
    assert result.returncode == 1, result.stdout + result.stderr
