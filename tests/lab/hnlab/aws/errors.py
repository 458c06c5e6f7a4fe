"""The lab extensions' AWS error, serialized by moto from the service's model.

Raising moto's ServiceException directly fails: moto looks for a service model
named after the exception's moto package ('core'). A subclass defined outside
moto makes it use the model of the service being called.
"""

from __future__ import annotations

from moto.core.exceptions import ServiceException


class LabError(ServiceException):
    """``LabError(code, message)``: an AWS error of the service being called."""
