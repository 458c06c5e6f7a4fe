# -*- coding: utf-8 -*-
"""The structure plugins/ keeps (issue 19): short functions, AWS errors caught only in the wrapper, pure planners.

Read from the source with ast, so a new module or module_utils file is held to the same rules without a test of
its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import os

import pytest

PLUGINS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "plugins")
MAX_LINES = 60
WRAPPER = os.path.join("module_utils", "aws", "calls.py")
AWS_EXCEPTIONS = ("ClientError", "BotoCoreError")
# Functions not split yet, with their length when this list was written; one that shrinks below MAX_LINES must
# leave the list (test_long_function_list_is_current), and none may grow.
NOT_SPLIT_YET = {}
# Names that make a call AWS (or the Kubernetes API) I/O: a plan_* function must not use them.
IO_PREFIXES = ("describe_", "list_", "get_", "search_", "create_", "update_", "delete_", "put_")
IO_NAMES = ("client", "boto3", "aws_client", "run_command", "fail_json", "exit_json")


def _sources():
    for root, _dirs, files in os.walk(PLUGINS):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                with open(path) as handle:
                    yield os.path.relpath(path, PLUGINS), ast.parse(handle.read(), path)


def _functions():
    for rel, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield rel, node


def _lengths():
    return dict(("%s:%s" % (rel, node.name), node.end_lineno - node.lineno + 1) for rel, node in _functions())


def test_no_function_over_the_limit():
    too_long = dict((name, length) for name, length in _lengths().items()
                    if length > NOT_SPLIT_YET.get(name, MAX_LINES))
    assert too_long == {}, "split these into named read/plan/apply/report functions: %s" % too_long


def test_long_function_list_is_current():
    lengths = _lengths()
    stale = [name for name in NOT_SPLIT_YET if lengths.get(name, 0) <= MAX_LINES]
    assert stale == [], "remove from NOT_SPLIT_YET (now short or gone): %s" % stale


def _caught_names(handler):
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for kind in kinds:
        if isinstance(kind, ast.Attribute):
            yield kind.attr
        elif isinstance(kind, ast.Name):
            yield kind.id
        elif isinstance(kind, ast.Call):  # except _aws_errors():
            yield "call"


def test_aws_errors_are_caught_only_in_the_wrapper():
    found = []
    for rel, tree in _sources():
        if rel == WRAPPER:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                names = set(_caught_names(node))
                if names & set(AWS_EXCEPTIONS + ("AWS_ERRORS", "call")):
                    found.append("%s:%d" % (rel, node.lineno))
    assert found == [], "use aws.call/aws.list_all instead of catching botocore errors: %s" % found


def test_plan_functions_do_no_io():
    found = []
    for rel, node in _functions():
        if not node.name.startswith("plan_"):
            continue
        arguments = [arg.arg for arg in node.args.args]
        used = set()
        for inner in ast.walk(node):
            if isinstance(inner, ast.Attribute) and (inner.attr.startswith(IO_PREFIXES) or inner.attr in IO_NAMES):
                used.add(inner.attr)
            elif isinstance(inner, ast.Name) and inner.id in IO_NAMES + ("module",):
                used.add(inner.id)
        used |= set(arguments) & set(IO_NAMES + ("module",))
        if used:
            found.append("%s:%s uses %s" % (rel, node.name, ", ".join(sorted(used))))
    assert found == [], "plan_* functions take what was read and do no I/O: %s" % found


@pytest.mark.parametrize("source,expected", [
    ("def plan_x(client):\n    return client.describe_things()\n", ["client", "describe_things"]),
    ("def plan_x(rows):\n    return [r for r in rows]\n", []),
])
def test_the_io_check_sees_a_client_call(source, expected):
    node = ast.parse(source).body[0]
    used = set(arg.arg for arg in node.args.args) & set(IO_NAMES)
    used |= set(inner.attr for inner in ast.walk(node) if isinstance(inner, ast.Attribute)
                and inner.attr.startswith(IO_PREFIXES))
    assert sorted(used) == expected
