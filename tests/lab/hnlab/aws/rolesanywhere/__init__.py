"""IAM Roles Anywhere for the lab: a moto service that moto 5.2 does not ship.

Built like any moto service (models.py backend, responses.py handlers,
urls.py routes) and registered into moto's server by ``hnlab.aws.install``.
"""

from .models import rolesanywhere_backends

__all__ = ["rolesanywhere_backends"]
