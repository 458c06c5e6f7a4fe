"""Request handlers of the lab's IAM Roles Anywhere service.

Parameters are parsed and results serialized by moto from botocore's
rolesanywhere model (automated parameter parsing, ActionResult).
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult, BaseResponse, EmptyResult

from ..paging import page
from .models import RolesAnywhereBackend, rolesanywhere_backends

DEFAULT_PAGE_SIZE = 100


class RolesAnywhereResponse(BaseResponse):
    def __init__(self) -> None:
        super().__init__(service_name="rolesanywhere")
        self.automated_parameter_parsing = True

    @property
    def backend(self) -> RolesAnywhereBackend:
        return rolesanywhere_backends[self.current_account][self.region]

    def _anchor(self, anchor: dict[str, Any]) -> ActionResult:
        return ActionResult({"trustAnchor": anchor})

    def _profile(self, profile: dict[str, Any]) -> ActionResult:
        return ActionResult({"profile": profile})

    def create_trust_anchor(self) -> ActionResult:
        return self._anchor(self.backend.create_trust_anchor(
            name=self._get_param("name"),
            source=self._get_param("source"),
            enabled=self._get_param("enabled"),
            tags=self._get_param("tags"),
        ))

    def get_trust_anchor(self) -> ActionResult:
        return self._anchor(self.backend.get_trust_anchor(self._get_param("trustAnchorId")))

    def update_trust_anchor(self) -> ActionResult:
        return self._anchor(self.backend.update_trust_anchor(
            self._get_param("trustAnchorId"), self._get_param("name"), self._get_param("source")
        ))

    def enable_trust_anchor(self) -> ActionResult:
        return self._anchor(self.backend.set_trust_anchor_enabled(self._get_param("trustAnchorId"), True))

    def disable_trust_anchor(self) -> ActionResult:
        return self._anchor(self.backend.set_trust_anchor_enabled(self._get_param("trustAnchorId"), False))

    def delete_trust_anchor(self) -> ActionResult:
        return self._anchor(self.backend.delete_trust_anchor(self._get_param("trustAnchorId")))

    def list_trust_anchors(self) -> ActionResult:
        items, token = page(list(self.backend.trust_anchors.values()), self._get_param("nextToken"),
                            self._get_param("pageSize"), DEFAULT_PAGE_SIZE)
        return ActionResult({"trustAnchors": items, "nextToken": token})

    def create_profile(self) -> ActionResult:
        return self._profile(self.backend.create_profile(dict(self.params)))

    def get_profile(self) -> ActionResult:
        return self._profile(self.backend.get_profile(self._get_param("profileId")))

    def update_profile(self) -> ActionResult:
        params = {k: v for k, v in dict(self.params).items() if k != "profileId"}
        return self._profile(self.backend.update_profile(self._get_param("profileId"), params))

    def enable_profile(self) -> ActionResult:
        return self._profile(self.backend.set_profile_enabled(self._get_param("profileId"), True))

    def disable_profile(self) -> ActionResult:
        return self._profile(self.backend.set_profile_enabled(self._get_param("profileId"), False))

    def delete_profile(self) -> ActionResult:
        return self._profile(self.backend.delete_profile(self._get_param("profileId")))

    def list_profiles(self) -> ActionResult:
        items, token = page(list(self.backend.profiles.values()), self._get_param("nextToken"),
                            self._get_param("pageSize"), DEFAULT_PAGE_SIZE)
        return ActionResult({"profiles": items, "nextToken": token})

    def tag_resource(self) -> ActionResult:
        self.backend.tag_resource(self._get_param("resourceArn"), self._get_param("tags"))
        return EmptyResult()

    def untag_resource(self) -> ActionResult:
        self.backend.untag_resource(self._get_param("resourceArn"), self._get_param("tagKeys"))
        return EmptyResult()

    def list_tags_for_resource(self) -> ActionResult:
        return ActionResult({"tags": self.backend.list_tags_for_resource(self._get_param("resourceArn"))})
