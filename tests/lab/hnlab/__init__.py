"""The hybridnodes.eks lab: a simulated edge site on one Linux machine.

Test-only code: it lives under tests/ and never ships in the collection. Installed editable into the development
venv by `make setup` (tests/lab/pyproject.toml).
"""

from pathlib import Path


def require_checkout(lab_dir) -> None:
    """Raise ImportError unless this hnlab is the one of lab_dir (a checkout's tests/lab).

    A venv shared between checkouts imports the hnlab of the checkout that installed it last; the tests, the builds
    and the benchmark of one checkout must not drive another checkout's lab code."""
    here = Path(__file__).resolve().parent
    want = Path(lab_dir).resolve() / "hnlab"
    if here != want:
        raise ImportError(f"hnlab is imported from {here}, not from {want}: run `make setup` in that checkout "
                          "(scripts/setup.sh installs its tests/lab into the venv, editable)")
