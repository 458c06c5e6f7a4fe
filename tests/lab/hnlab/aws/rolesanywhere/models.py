"""Trust anchors, profiles and tags of IAM Roles Anywhere, kept per account and region."""

from __future__ import annotations

import uuid
from typing import Any

from cryptography import x509
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import ServiceException
from moto.core.utils import utcnow

SOURCE_TYPES = ("CERTIFICATE_BUNDLE", "AWS_ACM_PCA", "SELF_SIGNED_REPOSITORY")
MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 900, 43200, 3600


class ValidationException(ServiceException):
    code = "ValidationException"


class ResourceNotFoundException(ServiceException):
    code = "ResourceNotFoundException"


def _validate_source(source: dict[str, Any]) -> dict[str, Any]:
    source_type = source.get("sourceType")
    data = source.get("sourceData") or {}
    if source_type not in SOURCE_TYPES:
        raise ValidationException(f"Invalid sourceType: {source_type}")
    if source_type == "CERTIFICATE_BUNDLE":
        pem = data.get("x509CertificateData") or ""
        try:
            x509.load_pem_x509_certificate(pem.encode())
        except ValueError as exc:
            raise ValidationException("Invalid certificate bundle") from exc
    if source_type == "AWS_ACM_PCA" and not str(data.get("acmPcaArn", "")).startswith("arn:"):
        raise ValidationException("acmPcaArn is required for AWS_ACM_PCA")
    return {"sourceType": source_type, "sourceData": dict(data)}


def _validate_duration(seconds: int | None) -> int:
    if seconds is None:
        return DEFAULT_DURATION
    if not MIN_DURATION <= seconds <= MAX_DURATION:
        raise ValidationException(
            f"durationSeconds must be between {MIN_DURATION} and {MAX_DURATION}"
        )
    return seconds


class RolesAnywhereBackend(BaseBackend):
    """State of one account and region: dicts of plain model-shaped records."""

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.trust_anchors: dict[str, dict[str, Any]] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, list[dict[str, str]]] = {}

    def _arn(self, kind: str, resource_id: str) -> str:
        return f"arn:aws:rolesanywhere:{self.region_name}:{self.account_id}:{kind}/{resource_id}"

    def _get(self, store: dict[str, dict[str, Any]], resource_id: str) -> dict[str, Any]:
        if resource_id not in store:
            raise ResourceNotFoundException(f"Resource {resource_id} not found")
        return store[resource_id]

    # Trust anchors.
    def create_trust_anchor(
        self, name: str, source: dict[str, Any], enabled: bool | None, tags: list | None
    ) -> dict[str, Any]:
        anchor_id = str(uuid.uuid4())
        now = utcnow()
        anchor = {
            "trustAnchorId": anchor_id,
            "trustAnchorArn": self._arn("trust-anchor", anchor_id),
            "name": name,
            "source": _validate_source(source),
            "enabled": bool(enabled),
            "createdAt": now,
            "updatedAt": now,
            "notificationSettings": [
                {"enabled": True, "event": event, "threshold": 45, "channel": "ALL",
                 "configuredBy": "rolesanywhere.amazonaws.com"}
                for event in ("CA_CERTIFICATE_EXPIRY", "END_ENTITY_CERTIFICATE_EXPIRY")
            ],
        }
        self.trust_anchors[anchor_id] = anchor
        self.tags[anchor["trustAnchorArn"]] = list(tags or [])
        return anchor

    def get_trust_anchor(self, anchor_id: str) -> dict[str, Any]:
        return self._get(self.trust_anchors, anchor_id)

    def update_trust_anchor(
        self, anchor_id: str, name: str | None, source: dict[str, Any] | None
    ) -> dict[str, Any]:
        anchor = self.get_trust_anchor(anchor_id)
        if name:
            anchor["name"] = name
        if source:
            anchor["source"] = _validate_source(source)
        anchor["updatedAt"] = utcnow()
        return anchor

    def set_trust_anchor_enabled(self, anchor_id: str, enabled: bool) -> dict[str, Any]:
        anchor = self.get_trust_anchor(anchor_id)
        anchor["enabled"] = enabled
        anchor["updatedAt"] = utcnow()
        return anchor

    def delete_trust_anchor(self, anchor_id: str) -> dict[str, Any]:
        anchor = self.get_trust_anchor(anchor_id)
        del self.trust_anchors[anchor_id]
        self.tags.pop(anchor["trustAnchorArn"], None)
        return anchor

    # Profiles.
    def create_profile(self, params: dict[str, Any]) -> dict[str, Any]:
        profile_id = str(uuid.uuid4())
        now = utcnow()
        profile = {
            "profileId": profile_id,
            "profileArn": self._arn("profile", profile_id),
            "name": params["name"],
            "roleArns": list(params["roleArns"]),
            "managedPolicyArns": list(params.get("managedPolicyArns") or []),
            "requireInstanceProperties": bool(params.get("requireInstanceProperties")),
            "durationSeconds": _validate_duration(params.get("durationSeconds")),
            "acceptRoleSessionName": bool(params.get("acceptRoleSessionName")),
            "enabled": bool(params.get("enabled")),
            "createdBy": f"arn:aws:iam::{self.account_id}:root",
            "createdAt": now,
            "updatedAt": now,
            "attributeMappings": [],
        }
        if params.get("sessionPolicy"):
            profile["sessionPolicy"] = params["sessionPolicy"]
        self.profiles[profile_id] = profile
        self.tags[profile["profileArn"]] = list(params.get("tags") or [])
        return profile

    def get_profile(self, profile_id: str) -> dict[str, Any]:
        return self._get(self.profiles, profile_id)

    def update_profile(self, profile_id: str, params: dict[str, Any]) -> dict[str, Any]:
        profile = self.get_profile(profile_id)
        if "durationSeconds" in params:
            profile["durationSeconds"] = _validate_duration(params["durationSeconds"])
        for key in ("name", "roleArns", "managedPolicyArns", "sessionPolicy", "acceptRoleSessionName"):
            if key in params:
                profile[key] = params[key]
        profile["updatedAt"] = utcnow()
        return profile

    def set_profile_enabled(self, profile_id: str, enabled: bool) -> dict[str, Any]:
        profile = self.get_profile(profile_id)
        profile["enabled"] = enabled
        profile["updatedAt"] = utcnow()
        return profile

    def delete_profile(self, profile_id: str) -> dict[str, Any]:
        profile = self.get_profile(profile_id)
        del self.profiles[profile_id]
        self.tags.pop(profile["profileArn"], None)
        return profile

    # Tags.
    def _tags_of(self, arn: str) -> list[dict[str, str]]:
        if arn not in self.tags:
            raise ResourceNotFoundException(f"Resource {arn} not found")
        return self.tags[arn]

    def tag_resource(self, arn: str, tags: list[dict[str, str]]) -> None:
        current = {t["key"]: t["value"] for t in self._tags_of(arn)}
        current.update({t["key"]: t["value"] for t in tags})
        self.tags[arn] = [{"key": k, "value": v} for k, v in current.items()]

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        self.tags[arn] = [t for t in self._tags_of(arn) if t["key"] not in keys]

    def list_tags_for_resource(self, arn: str) -> list[dict[str, str]]:
        return self._tags_of(arn)


rolesanywhere_backends = BackendDict(RolesAnywhereBackend, "rolesanywhere")
