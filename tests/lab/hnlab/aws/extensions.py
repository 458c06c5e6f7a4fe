"""Install every lab extension into moto (call once, before the server builds its apps)."""

from __future__ import annotations

import re
import sys

from moto import backend_index

from . import ec2_ext, eks_ext, ssm_ext, sts_ext
from . import rolesanywhere

ROLESANYWHERE_URL = re.compile(r"https?://rolesanywhere\.(.+)\.amazonaws\.com")


def register_rolesanywhere() -> None:
    """Make moto's server resolve the 'rolesanywhere' signing name to the lab's backend."""
    sys.modules.setdefault("moto.rolesanywhere", rolesanywhere)
    if not any(name == "rolesanywhere" for name, _unused in backend_index.backend_url_patterns):
        backend_index.backend_url_patterns.append(("rolesanywhere", ROLESANYWHERE_URL))


def install() -> None:
    ssm_ext.install()
    eks_ext.install()
    ec2_ext.install()
    sts_ext.install()
    register_rolesanywhere()
