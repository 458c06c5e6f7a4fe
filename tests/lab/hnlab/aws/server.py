"""The lab's AWS emulator process: moto's server app inside the lab middleware.

Run as ``python -m hnlab.aws.server --host 127.0.0.1 --port N --account-id ID``
(hnlab.aws.process does). Requests are routed by their SigV4 credential
scope, not their Host header, so they may also arrive through the lab's TCP
forwarder from inside a lab namespace. A presigned request (no Authorization
header; its scope in the X-Amz-Credential query parameter, as in an
aws-iam-authenticator token) is routed by that scope too.
"""

from __future__ import annotations

import argparse
import os
from urllib.parse import parse_qsl


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

    class LabDispatcher(DomainDispatcherApplication):
        def infer_service_region_host(self, environ, path):
            if not environ.get("HTTP_AUTHORIZATION"):
                credential = dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("X-Amz-Credential", "")
                if credential.count("/") == 4:
                    environ = dict(environ, HTTP_AUTHORIZATION=f"AWS4-HMAC-SHA256 Credential={credential}, "
                                                               "SignedHeaders=host, Signature=presigned")
            return super().infer_service_region_host(environ, path)

    install()
    app = LabMiddleware(LabDispatcher(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
