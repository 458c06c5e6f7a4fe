# -*- coding: utf-8 -*-
"""Shared fixtures of the module tests: AWS responses through botocore's Stubber.

Stubber validates every queued request and response against the service
model, so the modules are held to the real API contract. A test module may
set STUB_RETRIES (default 2): the attempts amazon.aws' retry decorator makes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.module_utils import _internal as ansible_internal
from ansible.module_utils.common import warnings as ansible_warnings
from botocore.stub import Stubber

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """Each module test is a fresh module process: ansible-core keeps warnings (and drops repeats) process-wide,
    so without this a warning an earlier test emitted is missing from a later test's result. And once a test in
    the same pytest process imported a controller plugin (a filter), ansible-core sends module warnings to the
    controller's display instead of the result; a module never runs in the controller's process."""
    monkeypatch.setattr(ansible_internal, "is_controller", False)
    monkeypatch.setattr(ansible_warnings, "_global_warnings", {})
    monkeypatch.setattr(ansible_warnings, "_global_deprecations", {})


class Stubs:
    """Responses queued per service, replayed on the real client the module builds through aws.aws_client."""

    def __init__(self, retries=2):
        self.retries = retries
        self.queued = {}
        self.stubbers = {}

    def add(self, service, method, response, expected=None):
        self.queued.setdefault(service, []).append(("add_response", (method, response, expected), {}))

    def error(self, service, method, code, expected=None, status=400):
        self.queued.setdefault(service, []).append(
            ("add_client_error", (method,), {"service_error_code": code, "http_status_code": status,
                                             "expected_params": expected}))

    def factory(self, original):
        def make(module, service, retries=8, delay=1):
            client = original(module, service, retries=self.retries, delay=0.01)
            stubber = Stubber(client.client)
            for kind, args, kwargs in self.queued.get(service, []):
                getattr(stubber, kind)(*args, **kwargs)
            stubber.activate()
            self.stubbers[service] = stubber
            return client
        return make

    def verify(self):
        assert sorted(self.stubbers) == sorted(self.queued)
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def stubs(monkeypatch, request):
    made = Stubs(retries=getattr(request.module, "STUB_RETRIES", 2))
    monkeypatch.setattr(aws, "aws_client", made.factory(aws.aws_client))
    return made
