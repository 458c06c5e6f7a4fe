"""SSM hybrid activations and managed instances, added to moto's SSM classes.

moto 5.2 has no activations or managed instances. ``install()`` adds backend
methods to ``SimpleSystemManagerBackend`` (state per account and region, so an
activation is invisible in another region) and handlers to
``SimpleSystemManagerResponse``; moto serializes the results from botocore's
SSM model. ``register_managed_instance`` is the lab's stand-in for what the SSM
agent does with an activation code; the control surface exposes it.
"""

from __future__ import annotations

import json
import secrets
import string
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.ssm.models import SimpleSystemManagerBackend
from moto.ssm.responses import SimpleSystemManagerResponse

from .errors import LabError
from .paging import page
from .patching import graft

DEFAULT_EXPIRY = timedelta(hours=24)
DEFAULT_REGISTRATION_LIMIT = 1
ACTIVATION_FILTER_KEYS = {"ActivationIds": "ActivationId", "DefaultInstanceName": "DefaultInstanceName",
                          "IamRole": "IamRole"}
INSTANCE_FILTER_KEYS = {"InstanceIds": "InstanceId", "ActivationIds": "ActivationId", "IamRole": "IamRole",
                        "PingStatus": "PingStatus", "PlatformTypes": "PlatformType",
                        "ResourceType": "ResourceType", "AgentVersion": "AgentVersion"}
AGENT_VERSION = "3.3.1142.0"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class SSMHybridBackend:
    """Methods added to moto's SimpleSystemManagerBackend."""

    @property
    def lab_activations(self) -> dict[str, dict[str, Any]]:
        return self.__dict__.setdefault("_lab_activations", {})

    @property
    def lab_instances(self) -> dict[str, dict[str, Any]]:
        return self.__dict__.setdefault("_lab_instances", {})

    def create_activation(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("IamRole"):
            raise LabError("ValidationException", "IamRole is required")
        expiry = params.get("ExpirationDate")
        activation = {
            "ActivationId": str(uuid.uuid4()),
            "Description": params.get("Description") or "",
            "DefaultInstanceName": params.get("DefaultInstanceName") or "",
            "IamRole": params["IamRole"],
            "RegistrationLimit": int(params.get("RegistrationLimit") or DEFAULT_REGISTRATION_LIMIT),
            "RegistrationsCount": 0,
            "ExpirationDate": _as_datetime(expiry) if expiry else _now() + DEFAULT_EXPIRY,
            "Expired": False,
            "CreatedDate": _now(),
            "Tags": list(params.get("Tags") or []),
        }
        code = "".join(secrets.choice(string.ascii_letters + string.digits) for _unused in range(20))
        self.lab_activations[activation["ActivationId"]] = {**activation, "_code": code}
        return {"ActivationId": activation["ActivationId"], "ActivationCode": code}

    def _public_activation(self, stored: dict[str, Any]) -> dict[str, Any]:
        activation = {k: v for k, v in stored.items() if not k.startswith("_")}
        activation["Expired"] = stored["Expired"] or stored["ExpirationDate"] <= _now()
        return activation

    def describe_activations(self, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found = [self._public_activation(a) for a in self.lab_activations.values()]
        for flt in filters:
            field = ACTIVATION_FILTER_KEYS.get(flt.get("FilterKey"))
            if field is None:
                raise LabError("InvalidFilter", f"Unknown filter key {flt.get('FilterKey')}")
            found = [a for a in found if a[field] in flt.get("FilterValues", [])]
        return found

    def delete_activation(self, activation_id: str) -> None:
        if activation_id not in self.lab_activations:
            raise LabError("InvalidActivationId", f"Activation ID {activation_id} does not exist")
        del self.lab_activations[activation_id]

    def expire_activation(self, activation_id: str) -> None:
        if activation_id not in self.lab_activations:
            raise LabError("InvalidActivationId", f"Activation ID {activation_id} does not exist")
        self.lab_activations[activation_id]["Expired"] = True

    def register_managed_instance(
        self, activation_id: str, activation_code: str, hostname: str, ip_address: str = ""
    ) -> str:
        stored = self.lab_activations.get(activation_id)
        if stored is None or not secrets.compare_digest(stored["_code"], activation_code or ""):
            raise LabError("InvalidActivation", "Activation ID or code is not valid in this region")
        if self._public_activation(stored)["Expired"]:
            raise LabError("ActivationExpired", f"Activation {activation_id} has expired")
        if stored["RegistrationsCount"] >= stored["RegistrationLimit"]:
            raise LabError("ActivationLimitExceeded",
                           f"Activation {activation_id} reached its registration limit")
        stored["RegistrationsCount"] += 1
        instance_id = "mi-" + secrets.token_hex(9)[:17]
        now = _now()
        self.lab_instances[instance_id] = {
            "InstanceId": instance_id, "PingStatus": "Online", "LastPingDateTime": now,
            "AgentVersion": AGENT_VERSION, "IsLatestVersion": True, "PlatformType": "Linux",
            "PlatformName": "Debian GNU/Linux", "PlatformVersion": "12",
            "ActivationId": activation_id, "IamRole": stored["IamRole"], "RegistrationDate": now,
            "ResourceType": "ManagedInstance", "Name": stored["DefaultInstanceName"] or hostname,
            "IPAddress": ip_address, "ComputerName": hostname, "SourceId": instance_id,
            "SourceType": "AWS::SSM::ManagedInstance", "_tags": list(stored["Tags"]),
        }
        return instance_id

    def describe_instance_information(
        self, filter_list: list[dict[str, Any]], filters: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        found = list(self.lab_instances.values())
        criteria = [(f["key"], f["valueSet"]) for f in filter_list]
        criteria += [(f["Key"], f["Values"]) for f in filters]
        for key, values in criteria:
            found = [i for i in found if _instance_matches(i, key, values)]
        return [{k: v for k, v in i.items() if not k.startswith("_")} for i in found]

    def deregister_managed_instance(self, instance_id: str) -> None:
        if instance_id not in self.lab_instances:
            raise LabError("InvalidInstanceId", f"Instance {instance_id} is not a managed instance")
        del self.lab_instances[instance_id]


def _instance_matches(instance: dict[str, Any], key: str, values: list[str]) -> bool:
    tags = {t["Key"]: t["Value"] for t in instance["_tags"]}
    if key == "tag-key":
        return any(v in tags for v in values)
    if key.startswith("tag:"):
        return tags.get(key[4:]) in values
    field = INSTANCE_FILTER_KEYS.get(key)
    if field is None:
        raise LabError("InvalidInstanceInformationFilterValue", f"Unknown filter key {key}")
    return instance[field] in values


class SSMHybridResponse:
    """Handlers added to moto's SimpleSystemManagerResponse."""

    def request_params(self) -> dict[str, Any]:
        return json.loads(self.body or "{}")

    def create_activation(self) -> ActionResult:
        return ActionResult(self.ssm_backend.create_activation(self.request_params()))

    def describe_activations(self) -> ActionResult:
        params = self.request_params()
        items, token = page(self.ssm_backend.describe_activations(params.get("Filters") or []),
                            params.get("NextToken"), params.get("MaxResults"), 50)
        return ActionResult({"ActivationList": items, "NextToken": token})

    def delete_activation(self) -> ActionResult:
        self.ssm_backend.delete_activation(self.request_params().get("ActivationId"))
        return EmptyResult()

    def describe_instance_information(self) -> ActionResult:
        params = self.request_params()
        found = self.ssm_backend.describe_instance_information(
            params.get("InstanceInformationFilterList") or [], params.get("Filters") or []
        )
        items, token = page(found, params.get("NextToken"), params.get("MaxResults"), 50)
        return ActionResult({"InstanceInformationList": items, "NextToken": token})

    def deregister_managed_instance(self) -> ActionResult:
        self.ssm_backend.deregister_managed_instance(self.request_params().get("InstanceId"))
        return EmptyResult()


def install() -> None:
    """Attach the methods above to moto's SSM backend and response classes."""
    graft(SSMHybridBackend, SimpleSystemManagerBackend)
    graft(SSMHybridResponse, SimpleSystemManagerResponse)
