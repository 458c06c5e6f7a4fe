"""Create the lab's documented AWS topology in the running emulator, through boto3.

VPC with one subnet and two route tables (the main one and the subnet's),
a virtual private gateway attached to the VPC, a transit gateway with a VPC
attachment, a customer gateway, a static-routes-only Site-to-Site VPN
connection (both tunnels UP), a security group admitting TCP 443 from the
remote node and pod CIDRs (EKS user guide, hybrid-nodes-networking), the EKS
cluster with that group, private endpoint access only (remote networks not
yet set), the vpc-cni addon (cloud nodes only; not a hybrid requirement) and
one cloud nodegroup. The IDs go to
cfg.state_dir/aws/seed.json; the request counts are reset at the end.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ..config import LabConfig
from .clients import client
from .labapi import LabApi
from .process import state_dir

# Documentation address (TEST-NET-2) as the on-premises VPN device: data only.
CUSTOMER_GATEWAY_IP = "198.51.100.1"
CUSTOMER_GATEWAY_ASN = 65000
NODEGROUP = "cloud-workers"


def _network(cfg: LabConfig) -> dict[str, Any]:
    ec2 = client(cfg, "ec2")
    vpc_id = ec2.create_vpc(CidrBlock=cfg.vpc_cidr)["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cfg.vpc_subnet_cidr,
                                  AvailabilityZone=f"{cfg.region}a")["Subnet"]["SubnetId"]
    main_rt = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                 {"Name": "association.main", "Values": ["true"]}])
    main_rt_id = main_rt["RouteTables"][0]["RouteTableId"]
    subnet_rt_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=subnet_rt_id, SubnetId=subnet_id)
    vgw_id = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpcId=vpc_id, VpnGatewayId=vgw_id)
    tgw = ec2.create_transit_gateway(Description=f"{cfg.cluster_name} lab")["TransitGateway"]
    tgw_rt_id = tgw["Options"]["AssociationDefaultRouteTableId"]
    tgw_attachment_id = ec2.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw["TransitGatewayId"], VpcId=vpc_id, SubnetIds=[subnet_id],
    )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
    cgw_id = ec2.create_customer_gateway(Type="ipsec.1", PublicIp=CUSTOMER_GATEWAY_IP,
                                         BgpAsn=CUSTOMER_GATEWAY_ASN)["CustomerGateway"]["CustomerGatewayId"]
    vpn_id = ec2.create_vpn_connection(Type="ipsec.1", CustomerGatewayId=cgw_id, VpnGatewayId=vgw_id,
                                       Options={"StaticRoutesOnly": True})["VpnConnection"]["VpnConnectionId"]
    # The group passed to the cluster: hybrid nodes (and unmasqueraded pods) reach the API server on 443.
    sg_id = ec2.create_security_group(GroupName=f"{cfg.cluster_name}-hybrid-nodes", VpcId=vpc_id,
                                      Description="EKS hybrid nodes to the API server")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg_id, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "IpRanges": [{"CidrIp": cfg.edge_cidr, "Description": "remote node network"},
                     {"CidrIp": cfg.pod_cidr, "Description": "remote pod network"}]}])
    return {"vpc_id": vpc_id, "subnet_id": subnet_id, "route_table_ids": [main_rt_id, subnet_rt_id],
            "vpn_gateway_id": vgw_id, "transit_gateway_id": tgw["TransitGatewayId"],
            "transit_gateway_route_table_id": tgw_rt_id,
            "transit_gateway_attachment_id": tgw_attachment_id,
            "customer_gateway_id": cgw_id, "vpn_connection_id": vpn_id, "security_group_id": sg_id}


def _cluster(cfg: LabConfig, subnet_id: str, sg_id: str, eks_ca_pem: str | None, eks_endpoint: str) -> str:
    role_arn = f"arn:aws:iam::{cfg.account_id}:role/{cfg.cluster_name}-cluster"
    node_role_arn = f"arn:aws:iam::{cfg.account_id}:role/{cfg.cluster_name}-cloud-node"
    eks = client(cfg, "eks")
    cluster = eks.create_cluster(
        name=cfg.cluster_name, version=cfg.cluster_kubernetes_version, roleArn=role_arn,
        # Public and private at once can stop hybrid nodes joining (EKS user guide, hybrid-nodes-cluster-create).
        resourcesVpcConfig={"subnetIds": [subnet_id], "securityGroupIds": [sg_id], "endpointPublicAccess": False,
                            "endpointPrivateAccess": True},
        kubernetesNetworkConfig={"serviceIpv4Cidr": cfg.service_cidr, "ipFamily": "ipv4"},
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
    )["cluster"]
    ca_data = base64.b64encode(eks_ca_pem.encode()).decode() if eks_ca_pem else None
    LabApi(cfg.moto_endpoint, cfg.region).set_cluster_endpoint(cfg.cluster_name, eks_endpoint, ca_data)
    eks.create_addon(clusterName=cfg.cluster_name, addonName="vpc-cni")
    eks.create_nodegroup(
        clusterName=cfg.cluster_name, nodegroupName=NODEGROUP, nodeRole=node_role_arn,
        subnets=[subnet_id], instanceTypes=["t3.xlarge"], diskSize=20,
        scalingConfig={"minSize": 1, "maxSize": 1, "desiredSize": 1},
    )
    return cluster["arn"]


def seed(cfg: LabConfig, eks_ca_pem: str | None, eks_endpoint: str) -> dict[str, Any]:
    """Create the topology in the running emulator; write and return the IDs."""
    ids = _network(cfg)
    ids["cluster_arn"] = _cluster(cfg, ids["subnet_id"], ids["security_group_id"], eks_ca_pem, eks_endpoint)
    ids["account_id"] = cfg.account_id
    ids["nodegroup_name"] = NODEGROUP
    path = state_dir(cfg) / "seed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ids, indent=2) + "\n")
    LabApi(cfg.moto_endpoint, cfg.region).reset()
    return ids
