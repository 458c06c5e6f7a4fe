"""Offline stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test creates each sanity virtualenv without pip and runs
``python get_pip.py <pip options> pip==X.Y`` in it. The original script is
fetched from a host this environment cannot reach, so ``make setup`` places
this file in ansible-test's cache instead: it installs pip from the
interpreter's own bundled wheel (ensurepip) and then lets that pip install
what was asked, from the package index the machine is configured for.

ensurepip runs in a subprocess: run in-process it points PIP_CONFIG_FILE at
/dev/null, which drops the machine's pip configuration (index and CA bundle).
"""

import subprocess
import sys

# Options of the real get-pip that plain ``pip install`` does not know.
GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")


def main():
    """Bootstrap pip, then install the requested packages with it."""
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "pip", "install"] + args, check=True)


if __name__ == "__main__":
    main()
