"""CLI entry of the lab: `python tests/lab/labctl.py up --hosts N | down | status | restart --host NAME`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hnlab.labctl import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
