"""The lab's AWS emulator process: moto's server app inside the lab middleware.

Run as ``python -m hnlab.aws.server --host 127.0.0.1 --port N --account-id ID``
(hnlab.aws.process does). Requests are routed by their SigV4 credential
scope, not their Host header, so they may also arrive through the lab's TCP
forwarder from inside a lab namespace.
"""

from __future__ import annotations

import argparse
import os


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--account-id", required=True)
    args = parser.parse_args(argv)
    os.environ["MOTO_ACCOUNT_ID"] = args.account_id
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    from .control import LabMiddleware
    from .extensions import install

    install()
    app = LabMiddleware(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
