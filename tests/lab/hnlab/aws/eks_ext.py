"""EKS calls moto 5.2 lacks or shapes wrongly, added to moto's EKS classes.

Adds access entries, cluster updates (update_cluster_config returns an
``update`` InProgress; the next describe_update reports it Successful),
addons, ``accessConfig`` and a complete ``kubernetesNetworkConfig`` on
clusters, the cluster security group EKS makes in the cluster's VPC
(``resourcesVpcConfig.clusterSecurityGroupId``), and the remote-network
rules EKS enforces. Routes are added to
``moto.eks.urls`` before moto's server builds its EKS app.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

import moto.eks.urls as eks_urls
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.models import ec2_backends
from moto.eks.models import EKSBackend
from moto.eks.responses import EKSResponse

from .errors import LabError
from .paging import page
from .patching import graft

ACCESS_ENTRY_USERNAMES = {
    "HYBRID_LINUX": "system:node:{{SessionName}}",
    "EC2_LINUX": "system:node:{{EC2PrivateDNSName}}",
    "EC2_WINDOWS": "system:node:{{EC2PrivateDNSName}}",
}
ACCESS_ENTRY_TYPES = ("STANDARD", "FARGATE_LINUX", "EC2_LINUX", "EC2_WINDOWS", "HYBRID_LINUX", "EC2")
ADDON_VERSIONS = {"vpc-cni": "v1.19.2-eksbuild.1", "kube-proxy": "v1.31.3-eksbuild.2",
                  "coredns": "v1.11.4-eksbuild.2"}
RFC1918 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]

_ORIGINAL_CREATE_CLUSTER = EKSResponse.create_cluster


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _remote_cidrs(config: dict[str, Any], key: str) -> list[ipaddress.IPv4Network]:
    cidrs = [c for item in config.get(key) or [] for c in item.get("cidrs") or []]
    try:
        networks = [ipaddress.ip_network(c) for c in cidrs]
    except ValueError as exc:
        raise LabError("InvalidParameterException", f"Invalid CIDR in {key}: {exc}") from exc
    for net in networks:
        if net.version != 4 or not any(net.subnet_of(r) for r in RFC1918) or net.prefixlen < 8:
            raise LabError("InvalidParameterException",
                           f"{net} in {key} must be an IPv4 RFC1918 CIDR from /8 to /32")
    return networks


class EKSLabBackend:
    """Methods added to moto's EKSBackend."""

    @property
    def lab_updates(self) -> dict[str, dict[str, Any]]:
        return self.__dict__.setdefault("_lab_updates", {})

    def lab_cluster(self, name: str) -> Any:
        if name not in self.clusters:
            raise LabError("ResourceNotFoundException", f"No cluster found for name: {name}.")
        return self.clusters[name]

    def _lab_entries(self, cluster: Any) -> dict[str, dict[str, Any]]:
        return cluster.__dict__.setdefault("lab_access_entries", {})

    def _lab_addons(self, cluster: Any) -> dict[str, dict[str, Any]]:
        return cluster.__dict__.setdefault("lab_addons", {})

    def complete_cluster_shape(self, cluster: Any, access_config: dict[str, Any] | None) -> None:
        network = dict(cluster.kubernetes_network_config or {})
        network.setdefault("ipFamily", "ipv4")
        cluster.kubernetes_network_config = network
        cluster.access_config = {
            "authenticationMode": (access_config or {}).get("authenticationMode", "CONFIG_MAP"),
            "bootstrapClusterCreatorAdminPermissions":
                (access_config or {}).get("bootstrapClusterCreatorAdminPermissions", True),
        }

    def add_cluster_security_group(self, cluster: Any) -> None:
        """Make the group EKS makes for a new cluster (eks-cluster-sg-NAME-ID, all traffic from itself) and report
        it, with the VPC, in resourcesVpcConfig, as EKS does."""
        ec2 = ec2_backends[self.account_id][self.region_name]
        config = dict(cluster.resources_vpc_config or {})
        subnet_ids = config.get("subnetIds") or []
        vpc_ids = sorted({s.vpc_id for s in ec2.describe_subnets(subnet_ids=subnet_ids)}) if subnet_ids else []
        if not vpc_ids:
            return
        group = ec2.create_security_group(
            name=f"eks-cluster-sg-{cluster.name}-{uuid.uuid4().hex[:10]}",
            description="EKS created security group applied to ENI that is attached to EKS Control Plane master "
                        "nodes, as well as any managed workloads.",
            vpc_id=vpc_ids[0],
            tags={"aws:eks:cluster-name": cluster.name, f"kubernetes.io/cluster/{cluster.name}": "owned"})
        ec2.authorize_security_group_ingress(group.id, "-1", None, None, [],
                                             source_groups=[{"GroupId": group.id}])
        config["vpcId"] = vpc_ids[0]
        config["clusterSecurityGroupId"] = group.id
        config.setdefault("securityGroupIds", [])
        cluster.resources_vpc_config = config

    def set_cluster_endpoint(self, name: str, endpoint: str, ca_data: str | None) -> None:
        cluster = self.lab_cluster(name)
        cluster.endpoint = endpoint
        if ca_data:
            cluster.certificate_authority = {"data": ca_data}

    # Access entries.
    def create_access_entry(self, cluster_name: str, params: dict[str, Any]) -> dict[str, Any]:
        cluster = self.lab_cluster(cluster_name)
        entries = self._lab_entries(cluster)
        principal = params["principalArn"]
        entry_type = params.get("type") or "STANDARD"
        if entry_type not in ACCESS_ENTRY_TYPES:
            raise LabError("InvalidParameterException", f"Invalid access entry type {entry_type}")
        if cluster.access_config["authenticationMode"] == "CONFIG_MAP":
            raise LabError("InvalidRequestException",
                           "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP]")
        if principal in entries:
            raise LabError("ResourceInUseException",
                           "The specified access entry resource is already in use on this cluster.")
        if entry_type != "STANDARD" and (params.get("kubernetesGroups") or params.get("username")):
            raise LabError("InvalidParameterException",
                           f"kubernetesGroups and username cannot be set for type {entry_type}")
        now = _now()
        entry = {
            "clusterName": cluster_name, "principalArn": principal,
            "kubernetesGroups": list(params.get("kubernetesGroups") or []),
            "accessEntryArn": (f"arn:aws:eks:{self.region_name}:{self.account_id}:access-entry/"
                               f"{cluster_name}/{principal.split(':')[-1]}/{uuid.uuid4()}"),
            "createdAt": now, "modifiedAt": now, "tags": dict(params.get("tags") or {}),
            "username": params.get("username") or ACCESS_ENTRY_USERNAMES.get(entry_type, principal),
            "type": entry_type,
        }
        entries[principal] = entry
        return entry

    def describe_access_entry(self, cluster_name: str, principal: str) -> dict[str, Any]:
        entries = self._lab_entries(self.lab_cluster(cluster_name))
        if principal not in entries:
            raise LabError("ResourceNotFoundException",
                           f"The specified principalArn could not be found: {principal}")
        return entries[principal]

    def list_access_entries(self, cluster_name: str) -> list[str]:
        return list(self._lab_entries(self.lab_cluster(cluster_name)))

    def delete_access_entry(self, cluster_name: str, principal: str) -> None:
        self.describe_access_entry(cluster_name, principal)
        del self._lab_entries(self.lab_cluster(cluster_name))[principal]

    # Updates.
    def lab_update_cluster_config(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        cluster = self.lab_cluster(name)
        if params.get("remoteNetworkConfig") is not None:
            update_type, update_params = self._remote_network_update(cluster, params["remoteNetworkConfig"])
        elif params.get("accessConfig"):
            mode = params["accessConfig"].get("authenticationMode")
            current = cluster.access_config["authenticationMode"]
            if (current, mode) not in {("CONFIG_MAP", "API_AND_CONFIG_MAP"), ("API_AND_CONFIG_MAP", "API")}:
                raise LabError("InvalidParameterException",
                               f"Unsupported authentication mode update from {current} to {mode}")
            cluster.access_config["authenticationMode"] = mode
            update_type, update_params = "AccessConfigUpdate", [{"type": "AuthenticationMode", "value": mode}]
        else:
            self.update_cluster_config(
                name=name, resources_vpc_config=params.get("resourcesVpcConfig"),
                logging=params.get("logging"),
                kubernetes_network_config=params.get("kubernetesNetworkConfig"))
            update_type, update_params = "ConfigUpdate", []
        update = {"id": str(uuid.uuid4()), "status": "InProgress", "type": update_type,
                  "params": update_params, "createdAt": _now(), "errors": []}
        self.lab_updates[update["id"]] = {**update, "_cluster": name}
        return update

    def _remote_network_update(self, cluster: Any, config: dict[str, Any]) -> tuple[str, list]:
        nodes = _remote_cidrs(config, "remoteNodeNetworks")
        pods = _remote_cidrs(config, "remotePodNetworks")
        reserved = [ipaddress.ip_network(cluster.kubernetes_network_config["serviceIpv4Cidr"])]
        reserved += self.lab_vpc_cidrs(cluster)
        everything = nodes + pods
        for i, net in enumerate(everything):
            clashes = [o for o in everything[i + 1:] + reserved if net.overlaps(o)]
            if clashes:
                raise LabError("InvalidParameterException",
                               f"Remote network {net} overlaps {clashes[0]}")
        cluster.remote_network_config = {
            key: [{"cidrs": [c for item in config.get(key) or [] for c in item.get("cidrs") or []]}]
            for key in ("remoteNodeNetworks", "remotePodNetworks") if config.get(key) is not None
        }
        return "RemoteNetworkConfigUpdate", [{"type": "RemoteNetworkConfig", "value": str(config)}]

    def lab_vpc_cidrs(self, cluster: Any) -> list[ipaddress.IPv4Network]:
        ec2 = ec2_backends[self.account_id][self.region_name]
        subnet_ids = (cluster.resources_vpc_config or {}).get("subnetIds") or []
        vpc_ids = {s.vpc_id for s in ec2.describe_subnets(subnet_ids=subnet_ids)} if subnet_ids else set()
        return [ipaddress.ip_network(ec2.vpcs[v].cidr_block) for v in vpc_ids if v in ec2.vpcs]

    def describe_update(self, name: str, update_id: str) -> dict[str, Any]:
        stored = self.lab_updates.get(update_id)
        if stored is None or stored["_cluster"] != name:
            raise LabError("ResourceNotFoundException", f"No update found for ID: {update_id}")
        stored["status"] = "Successful"
        return {k: v for k, v in stored.items() if not k.startswith("_")}

    # Addons.
    def create_addon(self, cluster_name: str, params: dict[str, Any]) -> dict[str, Any]:
        addons = self._lab_addons(self.lab_cluster(cluster_name))
        name = params["addonName"]
        if name in addons:
            raise LabError("ResourceInUseException", f"Addon already exists with name: {name}")
        now = _now()
        addons[name] = {
            "addonName": name, "clusterName": cluster_name, "status": "ACTIVE",
            "addonVersion": params.get("addonVersion") or ADDON_VERSIONS.get(name, "v1.0.0-eksbuild.1"),
            "health": {"issues": []},
            "addonArn": f"arn:aws:eks:{self.region_name}:{self.account_id}:addon/{cluster_name}/{name}/{uuid.uuid4()}",
            "createdAt": now, "modifiedAt": now, "tags": dict(params.get("tags") or {}),
            "configurationValues": params.get("configurationValues") or "",
        }
        return addons[name]

    def describe_addon(self, cluster_name: str, name: str) -> dict[str, Any]:
        addons = self._lab_addons(self.lab_cluster(cluster_name))
        if name not in addons:
            raise LabError("ResourceNotFoundException", f"No addon: {name} found in cluster: {cluster_name}")
        return addons[name]

    def list_addons(self, cluster_name: str) -> list[str]:
        return list(self._lab_addons(self.lab_cluster(cluster_name)))


class EKSLabResponse:
    """Handlers added to (or replacing those of) moto's EKSResponse."""

    def _body(self) -> dict[str, Any]:
        return json.loads(self.body or "{}")

    def create_cluster(self) -> ActionResult:
        result = _ORIGINAL_CREATE_CLUSTER(self)
        cluster = self.eks_backend.lab_cluster(self._get_param("name"))
        self.eks_backend.complete_cluster_shape(cluster, self._get_param("accessConfig"))
        self.eks_backend.add_cluster_security_group(cluster)
        return result

    def update_cluster_config(self) -> ActionResult:
        update = self.eks_backend.lab_update_cluster_config(self._get_param("name"), self._body())
        return ActionResult({"update": update})

    def describe_update(self) -> ActionResult:
        return ActionResult({"update": self.eks_backend.describe_update(
            self._get_param("name"), self._get_param("updateId"))})

    def create_access_entry(self) -> ActionResult:
        return ActionResult({"accessEntry": self.eks_backend.create_access_entry(
            self._get_param("name"), self._body())})

    def describe_access_entry(self) -> ActionResult:
        return ActionResult({"accessEntry": self.eks_backend.describe_access_entry(
            self._get_param("name"), self._principal())})

    def delete_access_entry(self) -> ActionResult:
        self.eks_backend.delete_access_entry(self._get_param("name"), self._principal())
        return EmptyResult()

    def list_access_entries(self) -> ActionResult:
        items, token = page(self.eks_backend.list_access_entries(self._get_param("name")),
                            self._get_param("nextToken"), self._get_int_param("maxResults"), 100)
        return ActionResult({"accessEntries": items, "nextToken": token})

    def _principal(self) -> str:
        return unquote(self._get_param("principalArn"))

    def create_addon(self) -> ActionResult:
        return ActionResult({"addon": self.eks_backend.create_addon(self._get_param("name"), self._body())})

    def describe_addon(self) -> ActionResult:
        return ActionResult({"addon": self.eks_backend.describe_addon(
            self._get_param("name"), self._get_param("addonName"))})

    def list_addons(self) -> ActionResult:
        items, token = page(self.eks_backend.list_addons(self._get_param("name")),
                            self._get_param("nextToken"), self._get_int_param("maxResults"), 100)
        return ActionResult({"addons": items, "nextToken": token})


def install() -> None:
    """Attach the methods above to moto's EKS classes and add their routes."""
    graft(EKSLabBackend, EKSBackend)
    graft(EKSLabResponse, EKSResponse)
    dispatch = EKSResponse.dispatch
    cluster = "{0}/clusters/(?P<name>[^/]+)"
    eks_urls.url_paths.update({
        cluster + "/access-entries$": dispatch,
        cluster + "/access-entries/(?P<principalArn>.+)$": dispatch,
        cluster + "/updates/(?P<updateId>[^/]+)$": dispatch,
        cluster + "/addons$": dispatch,
        cluster + "/addons/(?P<addonName>[^/]+)$": dispatch,
    })
