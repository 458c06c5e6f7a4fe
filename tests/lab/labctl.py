"""CLI entry of the lab: `python tests/lab/labctl.py up --hosts N | down | status | restart --host NAME`.

hnlab is the package beside this file (installed editable into the venv by `make setup`; run as a script, this
file's folder comes first on the path, so it is always this checkout's hnlab).
"""

import sys

from hnlab.labctl import main

if __name__ == "__main__":
    sys.exit(main())
