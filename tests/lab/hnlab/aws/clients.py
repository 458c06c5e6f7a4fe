"""boto3 clients pointed at the lab's AWS emulator, with fake static credentials."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from ..config import LabConfig

FAKE_ACCESS_KEY = "AKIAHNLABFAKEKEY0001"
FAKE_SECRET_KEY = "hnlab-fake-secret-key"


def client(cfg: LabConfig, service: str, region: str | None = None, retries: dict | None = None) -> Any:
    return boto3.client(
        service,
        endpoint_url=cfg.moto_endpoint,
        region_name=region or cfg.region,
        aws_access_key_id=FAKE_ACCESS_KEY,
        aws_secret_access_key=FAKE_SECRET_KEY,
        config=Config(retries=retries or {"mode": "standard", "total_max_attempts": 3},
                      connect_timeout=5, read_timeout=30),
    )
