"""The lab's rendered Cilium manifest, for roles/cilium with cilium_method=manifest.

What `helm template` of the EKS Cilium chart gives with the hybrid values of
the EKS user guide (https://docs.aws.amazon.com/eks/latest/userguide/hybrid-nodes-cni.html), reduced to what the lab
can hold: the lab has no helm binary and runs no pods, so the manifest is
written here, at `labctl up`, into the state dir, and the lab inventory points
cilium_manifest_path at it (with cilium_wait_rollout false: no pod ever rolls
out in the lab).

It carries:
- the CiliumNode CRD (cilium.io/v2): Cilium's operator registers it when it
  starts; the lab has no operator pod, so the manifest brings it (the lab's
  operator stand-in, hnlab.cilium_operator, allocates once it and
  cilium-config exist);
- ConfigMap kube-system/cilium-config with cluster-pool IPAM whose pool is the
  remote pod networks and the mask size, Envoy off;
- the agent DaemonSet `cilium` and the operator Deployment `cilium-operator`,
  both with the node affinity eks.amazonaws.com/compute-type In [hybrid]; one
  operator replica tolerating only not-ready / agent-not-ready (so a drain can
  move it); their ServiceAccounts and RBAC.

CLI: ``python -m hnlab.cilium_manifest [--pod-cidr C ...] [--mask-size N] [OUT]``
prints or writes it for the running lab's config.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import yaml

from hnlab.config import LabConfig, load
from hnlab.k8s import CILIUMNODE_CRD

NAMESPACE = "kube-system"
VERSION = "v1.17.6"
COMPUTE_TYPE = "eks.amazonaws.com/compute-type"
HYBRID_AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": COMPUTE_TYPE, "operator": "In", "values": ["hybrid"]}]}]}}}
OPERATOR_TOLERATIONS = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"},
                        {"key": "node.cilium.io/agent-not-ready", "operator": "Exists"}]
CRD_NAMES = (CILIUMNODE_CRD["metadata"]["name"],)


def path(cfg: LabConfig) -> Path:
    """Where `labctl up` writes the manifest (the lab inventory's cilium_manifest_path)."""
    return cfg.state_dir / "lab" / "cilium-manifest.yaml"


def _labels(app: str) -> dict:
    return {"k8s-app": app, "app.kubernetes.io/part-of": "cilium", "app.kubernetes.io/name": app}


def _rbac(name: str, rules: list) -> list[dict]:
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": NAMESPACE}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
         "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}]},
    ]


def build(pod_cidrs: list[str], mask_size: int) -> list[dict]:
    """The manifest's documents, in apply order."""
    config = {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cilium-config", "namespace": NAMESPACE},
        "data": {
            "ipam": "cluster-pool",
            # The chart joins ipam.operator.clusterPoolIPv4PodCIDRList with spaces.
            "cluster-pool-ipv4-cidr": " ".join(pod_cidrs),
            "cluster-pool-ipv4-mask-size": str(mask_size),
            "external-envoy-proxy": "false",
            "enable-service-topology": "true",
            "unmanaged-pod-watcher-interval": "0",
            "tunnel-protocol": "vxlan",
            "routing-mode": "tunnel",
        },
    }
    agent = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "cilium", "namespace": NAMESPACE, "labels": _labels("cilium")},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "cilium"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}},
            "template": {
                "metadata": {"labels": _labels("cilium")},
                "spec": {
                    "serviceAccountName": "cilium",
                    "hostNetwork": True,
                    "priorityClassName": "system-node-critical",
                    "affinity": copy.deepcopy(HYBRID_AFFINITY),
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{
                        "name": "cilium-agent", "image": f"quay.io/cilium/cilium:{VERSION}",
                        "command": ["cilium-agent"], "args": ["--config-dir=/tmp/cilium/config-map"],
                        "securityContext": {"privileged": True},
                        "volumeMounts": [{"name": "cilium-config-path", "mountPath": "/tmp/cilium/config-map",
                                          "readOnly": True}],
                    }],
                    "volumes": [{"name": "cilium-config-path", "configMap": {"name": "cilium-config"}}],
                },
            },
        },
    }
    operator = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "cilium-operator", "namespace": NAMESPACE, "labels": _labels("cilium-operator")},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"k8s-app": "cilium-operator"}},
            "template": {
                "metadata": {"labels": _labels("cilium-operator")},
                "spec": {
                    "serviceAccountName": "cilium-operator",
                    "hostNetwork": True,
                    "priorityClassName": "system-cluster-critical",
                    "affinity": copy.deepcopy(HYBRID_AFFINITY),
                    "tolerations": copy.deepcopy(OPERATOR_TOLERATIONS),
                    "containers": [{
                        "name": "cilium-operator", "image": f"quay.io/cilium/operator-generic:{VERSION}",
                        "command": ["cilium-operator-generic"], "args": ["--config-dir=/tmp/cilium/config-map"],
                        "volumeMounts": [{"name": "cilium-config-path", "mountPath": "/tmp/cilium/config-map",
                                          "readOnly": True}],
                    }],
                    "volumes": [{"name": "cilium-config-path", "configMap": {"name": "cilium-config"}}],
                },
            },
        },
    }
    agent_rules = [{"apiGroups": ["cilium.io"], "resources": ["ciliumnodes", "ciliumnodes/status"],
                    "verbs": ["get", "list", "watch", "update", "patch"]},
                   {"apiGroups": [""], "resources": ["nodes", "pods", "services", "endpoints", "namespaces"],
                    "verbs": ["get", "list", "watch"]}]
    operator_rules = [{"apiGroups": ["cilium.io"], "resources": ["ciliumnodes", "ciliumnodes/status"],
                       "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
                      {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
                       "verbs": ["get", "list", "watch", "create", "update"]},
                      {"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["get", "list", "watch"]}]
    return ([copy.deepcopy(CILIUMNODE_CRD)] + _rbac("cilium", agent_rules) + _rbac("cilium-operator", operator_rules)
            + [config, agent, operator])


def render(pod_cidrs: list[str], mask_size: int) -> str:
    return ("# Cilium for the lab's hybrid nodes (hnlab.cilium_manifest): the EKS hybrid values, rendered.\n"
            + yaml.safe_dump_all(build(pod_cidrs, mask_size), sort_keys=False))


def write(cfg: LabConfig, out: Path | None = None, pod_cidrs: list[str] | None = None,
          mask_size: int | None = None) -> Path:
    """Write the manifest for the lab's pod network (or the given one); returns its path."""
    target = Path(out) if out else path(cfg)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(render(pod_cidrs or [cfg.pod_cidr], mask_size or cfg.pod_mask_size))
    tmp.replace(target)
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="hnlab.cilium_manifest")
    parser.add_argument("out", nargs="?", help="file to write (default: print)")
    parser.add_argument("--pod-cidr", action="append", help="pool CIDR (repeatable; default: the lab's)")
    parser.add_argument("--mask-size", type=int, help="per-node mask size (default: the lab's)")
    args = parser.parse_args(argv)
    cfg = load()
    if args.out:
        print(write(cfg, Path(args.out), args.pod_cidr, args.mask_size))
    else:
        sys.stdout.write(render(args.pod_cidr or [cfg.pod_cidr], args.mask_size or cfg.pod_mask_size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
