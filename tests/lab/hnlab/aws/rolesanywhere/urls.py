"""URL routes of the lab's IAM Roles Anywhere service (REST-JSON paths of the model)."""

from . import sessions
from .responses import RolesAnywhereResponse

url_bases = [r"https?://rolesanywhere\.(.+)\.amazonaws\.com"]

_dispatch = RolesAnywhereResponse.dispatch

url_paths = {
    "{0}/trustanchors$": _dispatch,
    "{0}/trustanchor/(?P<trustAnchorId>[^/]+)$": _dispatch,
    "{0}/trustanchor/(?P<trustAnchorId>[^/]+)/enable$": _dispatch,
    "{0}/trustanchor/(?P<trustAnchorId>[^/]+)/disable$": _dispatch,
    "{0}/profiles$": _dispatch,
    "{0}/profile/(?P<profileId>[^/]+)$": _dispatch,
    "{0}/profile/(?P<profileId>[^/]+)/enable$": _dispatch,
    "{0}/profile/(?P<profileId>[^/]+)/disable$": _dispatch,
    "{0}/TagResource$": _dispatch,
    "{0}/UntagResource$": _dispatch,
    "{0}/ListTagsForResource$": _dispatch,
    # The data plane's one operation, which botocore's model does not carry (sessions.py).
    "{0}/sessions$": sessions.handle,
}
