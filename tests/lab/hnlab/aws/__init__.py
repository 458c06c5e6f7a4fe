"""The lab's AWS emulator: moto's server plus lab-only extensions, seeding and control.

- start(cfg) / stop(cfg) / status(cfg): the server process on 127.0.0.1:cfg.moto_port.
- seed(cfg, eks_ca_pem, eks_endpoint): create the documented topology, write seed.json.
- labapi.LabApi: request counts, fault injection, VPN tunnels, SSM registration.
"""

from .process import start, status, stop
from .seed import seed

__all__ = ["start", "stop", "status", "seed"]
