"""Contract of the lab's AWS emulator: every boto3 call the collection makes, checked
against botocore's output shapes, plus request counts, fault injection, SSM
registration errors and duplicate access entries.

Starts its own emulator on a free loopback port with a temporary state dir.
"""

from __future__ import annotations

import datetime
import json
import uuid

import pytest

from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hnlab import aws
from hnlab.aws import shapecheck
from hnlab.aws.clients import client
from hnlab.aws.labapi import LabApi, LabApiError
from hnlab.config import isolated

CA_PEM = "-----BEGIN CERTIFICATE-----\nlab\n-----END CERTIFICATE-----\n"
EKS_ENDPOINT = "https://10.100.0.20"
HYBRID_ROLE = "hybrid-lab-nodes"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    cfg = isolated(tmp_path_factory.mktemp("state"), "moto_port")
    aws.start(cfg)
    try:
        ids = aws.seed(cfg, CA_PEM, EKS_ENDPOINT)
        yield cfg, ids
    finally:
        aws.stop(cfg)


@pytest.fixture
def api(lab):
    cfg, _unused = lab
    labapi = LabApi(cfg.moto_endpoint, cfg.region)
    yield labapi
    labapi.clear_faults()


def call(cli, method: str, reads: tuple[str, ...] = (), **kwargs):
    """Call a boto3 method and assert its answer matches the model and has what clients read."""
    response = getattr(cli, method)(**kwargs)
    service = cli.meta.service_model.service_name
    operation = cli.meta.method_to_api_mapping[method]
    assert shapecheck.problems(service, operation, response, reads) == [], (operation, response)
    return response


def _ca_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hnlab test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_seed_topology(lab):
    cfg, ids = lab
    assert json.loads((cfg.state_dir / "aws" / "seed.json").read_text()) == ids
    assert ids["account_id"] == cfg.account_id and len(ids["route_table_ids"]) == 2
    cluster = call(client(cfg, "eks"), "describe_cluster", name=cfg.cluster_name, reads=(
        "cluster.endpoint", "cluster.certificateAuthority.data", "cluster.accessConfig.authenticationMode",
        "cluster.kubernetesNetworkConfig.serviceIpv4Cidr", "cluster.kubernetesNetworkConfig.ipFamily",
        "cluster.version", "cluster.status", "cluster.arn"))["cluster"]
    assert cluster["endpoint"] == EKS_ENDPOINT and cluster["arn"] == ids["cluster_arn"]
    assert cluster["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    assert cluster["kubernetesNetworkConfig"]["serviceIpv4Cidr"] == cfg.service_cidr
    assert cluster.get("remoteNetworkConfig") is None
    assert cluster["version"] == cfg.cluster_kubernetes_version


def test_vpc_routes(lab):
    cfg, ids = lab
    ec2 = client(cfg, "ec2")
    rt = ids["route_table_ids"][1]
    eni = ec2.create_network_interface(SubnetId=ids["subnet_id"])["NetworkInterface"]["NetworkInterfaceId"]
    call(ec2, "create_route", RouteTableId=rt, DestinationCidrBlock=cfg.edge_cidr, GatewayId=ids["vpn_gateway_id"])
    call(ec2, "create_route", RouteTableId=rt, DestinationCidrBlock=cfg.pod_cidr, NetworkInterfaceId=eni)
    call(ec2, "replace_route", RouteTableId=rt, DestinationCidrBlock=cfg.edge_cidr,
         TransitGatewayId=ids["transit_gateway_id"])
    tables = call(ec2, "describe_route_tables", RouteTableIds=ids["route_table_ids"], reads=(
        "RouteTables[].RouteTableId", "RouteTables[].VpcId", "RouteTables[].Routes[].DestinationCidrBlock",
        "RouteTables[].Routes[].State", "RouteTables[].Associations[].RouteTableId"))["RouteTables"]
    routes = {r["DestinationCidrBlock"]: r for t in tables if t["RouteTableId"] == rt for r in t["Routes"]}
    assert routes[cfg.edge_cidr]["TransitGatewayId"] == ids["transit_gateway_id"]
    assert routes[cfg.pod_cidr]["NetworkInterfaceId"] == eni
    call(ec2, "delete_route", RouteTableId=rt, DestinationCidrBlock=cfg.pod_cidr)
    tables = ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"]
    assert cfg.pod_cidr not in {r.get("DestinationCidrBlock") for r in tables[0]["Routes"]}


def test_vpn_connection_routes_and_telemetry(lab, api):
    cfg, ids = lab
    ec2 = client(cfg, "ec2")
    vpn = ids["vpn_connection_id"]
    call(ec2, "create_vpn_connection_route", VpnConnectionId=vpn, DestinationCidrBlock=cfg.edge_cidr)
    reads = ("VpnConnections[].Options.StaticRoutesOnly", "VpnConnections[].Routes[].DestinationCidrBlock",
             "VpnConnections[].Routes[].State", "VpnConnections[].VgwTelemetry[].Status",
             "VpnConnections[].VgwTelemetry[].OutsideIpAddress", "VpnConnections[].VgwTelemetry[].LastStatusChange")
    conn = call(ec2, "describe_vpn_connections", VpnConnectionIds=[vpn], reads=reads)["VpnConnections"][0]
    assert conn["Options"]["StaticRoutesOnly"] is True
    assert conn["Routes"] == [{"DestinationCidrBlock": cfg.edge_cidr, "Source": "Static", "State": "available"}]
    assert [t["Status"] for t in conn["VgwTelemetry"]] == ["UP", "UP"]
    down_ip = api.set_tunnel(vpn, "DOWN", tunnel=1, message="IPSEC IS DOWN")
    telemetry = ec2.describe_vpn_connections(VpnConnectionIds=[vpn])["VpnConnections"][0]["VgwTelemetry"]
    assert {t["OutsideIpAddress"]: t["Status"] for t in telemetry}[down_ip] == "DOWN"
    api.set_tunnel(vpn, "UP", tunnel=1)
    call(ec2, "delete_vpn_connection_route", VpnConnectionId=vpn, DestinationCidrBlock=cfg.edge_cidr)
    assert ec2.describe_vpn_connections(VpnConnectionIds=[vpn])["VpnConnections"][0]["Routes"] == []
    dynamic = ec2.create_vpn_connection(Type="ipsec.1", CustomerGatewayId=ids["customer_gateway_id"],
                                        VpnGatewayId=ids["vpn_gateway_id"],
                                        Options={"StaticRoutesOnly": False})["VpnConnection"]["VpnConnectionId"]
    with pytest.raises(ClientError) as err:
        ec2.create_vpn_connection_route(VpnConnectionId=dynamic, DestinationCidrBlock=cfg.edge_cidr)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_vgw_route_propagation(lab):
    cfg, ids = lab
    ec2 = client(cfg, "ec2")
    rt = ids["route_table_ids"][0]
    call(ec2, "enable_vgw_route_propagation", GatewayId=ids["vpn_gateway_id"], RouteTableId=rt)
    table = call(ec2, "describe_route_tables", RouteTableIds=[rt],
                 reads=("RouteTables[].PropagatingVgws[].GatewayId",))["RouteTables"][0]
    assert table["PropagatingVgws"] == [{"GatewayId": ids["vpn_gateway_id"]}]
    call(ec2, "disable_vgw_route_propagation", GatewayId=ids["vpn_gateway_id"], RouteTableId=rt)
    assert not ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0].get("PropagatingVgws")


def test_transit_gateway_routes(lab):
    cfg, ids = lab
    ec2 = client(cfg, "ec2")
    table, attachment = ids["transit_gateway_route_table_id"], ids["transit_gateway_attachment_id"]
    route = call(ec2, "create_transit_gateway_route", DestinationCidrBlock=cfg.edge_cidr,
                 TransitGatewayRouteTableId=table, TransitGatewayAttachmentId=attachment,
                 reads=("Route.DestinationCidrBlock", "Route.State",
                        "Route.TransitGatewayAttachments[].TransitGatewayAttachmentId"))["Route"]
    assert route["State"] == "active"
    route = call(ec2, "replace_transit_gateway_route", DestinationCidrBlock=cfg.edge_cidr,
                 TransitGatewayRouteTableId=table, Blackhole=True, reads=("Route.State",))["Route"]
    assert route["State"] == "blackhole"
    found = call(ec2, "search_transit_gateway_routes", TransitGatewayRouteTableId=table,
                 Filters=[{"Name": "type", "Values": ["static"]}],
                 reads=("Routes[].DestinationCidrBlock", "Routes[].State"))["Routes"]
    assert [(r["DestinationCidrBlock"], r["State"]) for r in found] == [(cfg.edge_cidr, "blackhole")]


def test_ssm_activation_lifecycle(lab, api):
    cfg, ids = lab
    ssm = client(cfg, "ssm")
    tags = [{"Key": "EKSClusterARN", "Value": ids["cluster_arn"]}]
    created = call(ssm, "create_activation", IamRole=HYBRID_ROLE, RegistrationLimit=2, Tags=tags,
                   DefaultInstanceName="hybrid-node", reads=("ActivationId", "ActivationCode"))
    activation_id, code = created["ActivationId"], created["ActivationCode"]
    assert str(uuid.UUID(activation_id)) == activation_id and len(code) == 20
    listed = call(ssm, "describe_activations", Filters=[{"FilterKey": "ActivationIds", "FilterValues": [activation_id]}],
                  reads=("ActivationList[].ActivationId", "ActivationList[].IamRole", "ActivationList[].Expired",
                         "ActivationList[].RegistrationLimit", "ActivationList[].RegistrationsCount",
                         "ActivationList[].ExpirationDate", "ActivationList[].Tags"))["ActivationList"]
    assert [(a["IamRole"], a["RegistrationsCount"], a["Expired"]) for a in listed] == [(HYBRID_ROLE, 0, False)]
    instance_id = api.register_instance(activation_id, code, "edge01")
    assert instance_id.startswith("mi-") and len(instance_id) == 20
    info = call(ssm, "describe_instance_information", Filters=[{"Key": "tag-key", "Values": ["EKSClusterARN"]}],
                reads=("InstanceInformationList[].InstanceId", "InstanceInformationList[].PingStatus",
                       "InstanceInformationList[].ResourceType", "InstanceInformationList[].IamRole"))
    assert [(i["InstanceId"], i["PingStatus"], i["ResourceType"]) for i in info["InstanceInformationList"]] == [
        (instance_id, "Online", "ManagedInstance")]
    by_id = ssm.describe_instance_information(
        InstanceInformationFilterList=[{"key": "InstanceIds", "valueSet": [instance_id]}])
    assert [i["InstanceId"] for i in by_id["InstanceInformationList"]] == [instance_id]
    assert ssm.describe_activations()["ActivationList"][0]["RegistrationsCount"] == 1
    call(ssm, "deregister_managed_instance", InstanceId=instance_id)
    assert ssm.describe_instance_information()["InstanceInformationList"] == []
    call(ssm, "delete_activation", ActivationId=activation_id)
    assert ssm.describe_activations()["ActivationList"] == []


def test_ssm_pagination(lab):
    cfg, _unused = lab
    ssm = client(cfg, "ssm", region="eu-west-1")
    made = {ssm.create_activation(IamRole=HYBRID_ROLE)["ActivationId"] for _unused in range(3)}
    first = ssm.describe_activations(MaxResults=2)
    second = ssm.describe_activations(MaxResults=2, NextToken=first["NextToken"])
    assert len(first["ActivationList"]) == 2 and "NextToken" not in second
    assert {a["ActivationId"] for a in first["ActivationList"] + second["ActivationList"]} == made


def test_ssm_registration_errors(lab, api):
    cfg, _unused = lab
    ssm = client(cfg, "ssm")
    made = ssm.create_activation(IamRole=HYBRID_ROLE, RegistrationLimit=1)
    activation_id, code = made["ActivationId"], made["ActivationCode"]
    cases = [((activation_id, "X" * 20, "edge02"), {}, "InvalidActivation"),
             ((activation_id, code, "edge02"), {"region": "eu-central-1"}, "InvalidActivation")]
    for args, kwargs, expected in cases:
        with pytest.raises(LabApiError) as err:
            api.register_instance(*args, **kwargs)
        assert err.value.code == expected
    api.register_instance(activation_id, code, "edge02")
    with pytest.raises(LabApiError) as err:
        api.register_instance(activation_id, code, "edge03")
    assert err.value.code == "ActivationLimitExceeded"
    fresh = ssm.create_activation(IamRole=HYBRID_ROLE, RegistrationLimit=5)
    api.expire_activation(fresh["ActivationId"])
    with pytest.raises(LabApiError) as err:
        api.register_instance(fresh["ActivationId"], fresh["ActivationCode"], "edge04")
    assert err.value.code == "ActivationExpired"
    listed = ssm.describe_activations(Filters=[{"FilterKey": "ActivationIds", "FilterValues": [fresh["ActivationId"]]}])
    assert listed["ActivationList"][0]["Expired"] is True
    past = ssm.create_activation(IamRole=HYBRID_ROLE, ExpirationDate=datetime.datetime(2020, 1, 1))
    with pytest.raises(LabApiError) as err:
        api.register_instance(past["ActivationId"], past["ActivationCode"], "edge05")
    assert err.value.code == "ActivationExpired"


def test_rolesanywhere_calls(lab):
    cfg, _unused = lab
    ra = client(cfg, "rolesanywhere")
    anchor_reads = ("trustAnchor.trustAnchorArn", "trustAnchor.trustAnchorId", "trustAnchor.enabled",
                    "trustAnchor.source.sourceType")
    anchor = call(ra, "create_trust_anchor", name="lab-ca", enabled=True, reads=anchor_reads,
                  source={"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": _ca_pem()}},
                  tags=[{"key": "cluster", "value": cfg.cluster_name}])["trustAnchor"]
    anchor_id = anchor["trustAnchorId"]
    pca = call(ra, "create_trust_anchor", name="lab-pca", reads=anchor_reads, source={
        "sourceType": "AWS_ACM_PCA",
        "sourceData": {"acmPcaArn": f"arn:aws:acm-pca:{cfg.region}:{cfg.account_id}:certificate-authority/x"}})
    assert pca["trustAnchor"]["enabled"] is False
    assert call(ra, "get_trust_anchor", trustAnchorId=anchor_id, reads=anchor_reads)["trustAnchor"]["enabled"]
    listed = call(ra, "list_trust_anchors", reads=("trustAnchors[].trustAnchorArn",))["trustAnchors"]
    assert {a["name"] for a in listed} == {"lab-ca", "lab-pca"}
    assert call(ra, "update_trust_anchor", trustAnchorId=anchor_id, name="lab-ca2")["trustAnchor"]["name"] == "lab-ca2"
    assert call(ra, "disable_trust_anchor", trustAnchorId=anchor_id)["trustAnchor"]["enabled"] is False
    assert call(ra, "enable_trust_anchor", trustAnchorId=anchor_id)["trustAnchor"]["enabled"] is True
    role_arn = f"arn:aws:iam::{cfg.account_id}:role/{HYBRID_ROLE}"
    profile_reads = ("profile.profileArn", "profile.profileId", "profile.roleArns", "profile.enabled",
                     "profile.acceptRoleSessionName", "profile.durationSeconds")
    profile = call(ra, "create_profile", name="lab-nodes", roleArns=[role_arn], acceptRoleSessionName=True,
                   durationSeconds=3600, enabled=True, reads=profile_reads)["profile"]
    assert (profile["roleArns"], profile["acceptRoleSessionName"], profile["durationSeconds"]) == ([role_arn], True, 3600)
    profile_id = profile["profileId"]
    call(ra, "get_profile", profileId=profile_id, reads=profile_reads)
    assert [p["profileId"] for p in call(ra, "list_profiles", reads=("profiles[].profileArn",))["profiles"]] == [profile_id]
    assert call(ra, "update_profile", profileId=profile_id, durationSeconds=7200)["profile"]["durationSeconds"] == 7200
    assert call(ra, "disable_profile", profileId=profile_id)["profile"]["enabled"] is False
    assert call(ra, "enable_profile", profileId=profile_id)["profile"]["enabled"] is True
    call(ra, "tag_resource", resourceArn=profile["profileArn"], tags=[{"key": "k", "value": "v"}])
    tags = call(ra, "list_tags_for_resource", resourceArn=profile["profileArn"], reads=("tags[].key",))["tags"]
    assert tags == [{"key": "k", "value": "v"}]
    call(ra, "delete_profile", profileId=profile_id)
    call(ra, "delete_trust_anchor", trustAnchorId=anchor_id)
    for method, kwargs in (("get_profile", {"profileId": profile_id}), ("get_trust_anchor", {"trustAnchorId": anchor_id})):
        with pytest.raises(ra.exceptions.ResourceNotFoundException):
            getattr(ra, method)(**kwargs)
    with pytest.raises(ra.exceptions.ValidationException):
        ra.create_trust_anchor(name="bad", source={"sourceType": "CERTIFICATE_BUNDLE",
                                                   "sourceData": {"x509CertificateData": "not a cert"}})


def test_iam_calls(lab):
    cfg, _unused = lab
    iam = client(cfg, "iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role = call(iam, "create_role", RoleName=HYBRID_ROLE, AssumeRolePolicyDocument=json.dumps(trust),
                reads=("Role.Arn", "Role.RoleName"))["Role"]
    assert role["Arn"] == f"arn:aws:iam::{cfg.account_id}:role/{HYBRID_ROLE}"
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "eks:DescribeCluster",
                                                      "Resource": "*"}]}
    call(iam, "put_role_policy", RoleName=HYBRID_ROLE, PolicyName="eks-describe", PolicyDocument=json.dumps(policy))
    managed = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    call(iam, "attach_role_policy", RoleName=HYBRID_ROLE, PolicyArn=managed)
    attached = iam.list_attached_role_policies(RoleName=HYBRID_ROLE)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [managed]


def test_eks_calls(lab):
    cfg, ids = lab
    eks = client(cfg, "eks")
    remote = {"remoteNodeNetworks": [{"cidrs": [cfg.edge_cidr]}], "remotePodNetworks": [{"cidrs": [cfg.pod_cidr]}]}
    update = call(eks, "update_cluster_config", name=cfg.cluster_name, remoteNetworkConfig=remote,
                  reads=("update.id", "update.status", "update.type"))["update"]
    assert (update["status"], update["type"]) == ("InProgress", "RemoteNetworkConfigUpdate")
    done = call(eks, "describe_update", name=cfg.cluster_name, updateId=update["id"],
                reads=("update.id", "update.status"))["update"]
    assert done["status"] == "Successful"
    cluster = eks.describe_cluster(name=cfg.cluster_name)["cluster"]
    assert cluster["remoteNetworkConfig"] == remote
    for bad in ([cfg.vpc_cidr], [cfg.service_cidr], ["8.8.0.0/16"]):
        with pytest.raises(eks.exceptions.InvalidParameterException):
            eks.update_cluster_config(name=cfg.cluster_name, remoteNetworkConfig={"remoteNodeNetworks": [{"cidrs": bad}]})
    principal = f"arn:aws:iam::{cfg.account_id}:role/{HYBRID_ROLE}"
    entry = call(eks, "create_access_entry", clusterName=cfg.cluster_name, principalArn=principal, type="HYBRID_LINUX",
                 reads=("accessEntry.accessEntryArn", "accessEntry.username", "accessEntry.type"))["accessEntry"]
    assert entry["username"] == "system:node:{{SessionName}}"
    with pytest.raises(eks.exceptions.ResourceInUseException):
        eks.create_access_entry(clusterName=cfg.cluster_name, principalArn=principal, type="HYBRID_LINUX")
    listed = call(eks, "list_access_entries", clusterName=cfg.cluster_name, reads=("accessEntries",))
    assert listed["accessEntries"] == [principal]
    described = call(eks, "describe_access_entry", clusterName=cfg.cluster_name, principalArn=principal)
    assert described["accessEntry"]["type"] == "HYBRID_LINUX"
    assert call(eks, "list_nodegroups", clusterName=cfg.cluster_name, reads=("nodegroups",))["nodegroups"] == [ids["nodegroup_name"]]
    group = call(eks, "describe_nodegroup", clusterName=cfg.cluster_name, nodegroupName=ids["nodegroup_name"],
                 reads=("nodegroup.instanceTypes", "nodegroup.diskSize", "nodegroup.status"))["nodegroup"]
    assert (group["instanceTypes"], group["diskSize"]) == (["t3.xlarge"], 20)
    assert call(eks, "list_addons", clusterName=cfg.cluster_name, reads=("addons",))["addons"] == ["vpc-cni"]
    addon = call(eks, "describe_addon", clusterName=cfg.cluster_name, addonName="vpc-cni",
                 reads=("addon.addonVersion", "addon.status"))["addon"]
    assert addon["status"] == "ACTIVE"
    call(eks, "delete_access_entry", clusterName=cfg.cluster_name, principalArn=principal)
    assert eks.list_access_entries(clusterName=cfg.cluster_name)["accessEntries"] == []


def test_request_counts_and_reset(lab, api):
    cfg, _unused = lab
    eks = client(cfg, "eks")
    api.reset()
    eks.describe_cluster(name=cfg.cluster_name)
    eks.describe_cluster(name=cfg.cluster_name)
    client(cfg, "ssm").create_activation(IamRole=HYBRID_ROLE)
    kinds = {(r["service"], r["operation"]): (r["kind"], r["count"]) for r in api.requests()}
    assert kinds == {("eks", "DescribeCluster"): ("read", 2), ("ssm", "CreateActivation"): ("write", 1)}
    assert api.writes() == {("ssm", "CreateActivation"): 1}
    api.reset()
    assert api.counts() == {}


def test_requests_through_a_forwarder_host(lab, api):
    """A request whose Host header names the in-VPC endpoint is still routed by its signature."""
    cfg, _unused = lab
    eks = client(cfg, "eks")

    def forwarded_host(request, **_unused):
        request.headers["Host"] = f"{cfg.eks_endpoint_ip}:{cfg.aws_endpoint_port}"

    eks.meta.events.register("before-send.eks.DescribeCluster", forwarded_host)
    assert eks.describe_cluster(name=cfg.cluster_name)["cluster"]["name"] == cfg.cluster_name


@pytest.mark.parametrize("service,method,operation,kwargs", [
    ("eks", "describe_cluster", "DescribeCluster", {"name": "hybrid-lab"}),
    ("ssm", "describe_activations", "DescribeActivations", {}),
    ("ec2", "describe_vpn_connections", "DescribeVpnConnections", {}),
])
def test_throttled_call_is_retried(lab, api, service, method, operation, kwargs):
    cfg, _unused = lab
    cli = client(cfg, service, retries={"mode": "standard", "total_max_attempts": 3})
    api.reset()
    api.fault(service, operation, "throttle", count=1)
    getattr(cli, method)(**kwargs)
    assert api.counts()[(service, operation)] == 2


def test_server_errors_exhaust_retries(lab, api):
    cfg, _unused = lab
    eks = client(cfg, "eks", retries={"mode": "standard", "total_max_attempts": 2})
    api.reset()
    api.fault("eks", "ListAccessEntries", "error500", count=5)
    with pytest.raises(ClientError) as err:
        eks.list_access_entries(clusterName=cfg.cluster_name)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert api.counts()[("eks", "ListAccessEntries")] == 2


def test_access_denied_is_not_retried(lab, api):
    cfg, _unused = lab
    eks = client(cfg, "eks", retries={"mode": "standard", "total_max_attempts": 3})
    api.reset()
    api.fault("eks", "ListAccessEntries", "access-denied", count=1)
    with pytest.raises(ClientError) as err:
        eks.list_access_entries(clusterName=cfg.cluster_name)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert api.counts()[("eks", "ListAccessEntries")] == 1
    assert eks.list_access_entries(clusterName=cfg.cluster_name)["accessEntries"] == []
