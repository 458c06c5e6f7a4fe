# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS access shared by the collection's AWS modules: the one wrapper of every AWS call.

Built on amazon.aws: modules are ``AnsibleAWSModule`` instances (which bring
the region, credential and ``endpoint_url`` options; ``endpoint_url`` is how
the lab and other emulators are reached), clients come with amazon.aws'
jittered backoff, and failures go through ``fail_json_aws`` with a message
that names the operation, the resource and what to do about it.

Modules call AWS only through ``call`` (one request) and ``list_all`` (every
page of a list call): both retry, and both turn botocore's ClientError and
BotoCoreError into the collection's message. This is the only module that
catches those exceptions; ``paginate`` raises ``AWSPagingError`` instead.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    import botocore.exceptions
    AWS_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)
except ImportError:
    AWS_ERRORS = ()  # AnsibleAWSModule reports the missing library before any call.

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Beyond amazon.aws' own list (throttling and 5xx codes): EKS and SSM answer
# ResourceInUseException / ConcurrentUpdate-style errors while an update runs.
EXTRA_RETRY_CODES = ["ThrottlingException", "ResourceInUseException"]

ACCESS_DENIED_CODES = (
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
)
THROTTLING_CODES = ("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException")
SERVER_ERROR_CODES = ("InternalError", "InternalFailure", "InternalServerError", "InternalServerException",
                      "ServiceUnavailable", "ServiceUnavailableException", "Unavailable")

# IAM action prefixes where they differ from the botocore service name.
_IAM_PREFIX = {"rolesanywhere": "rolesanywhere", "eks": "eks", "ssm": "ssm", "ec2": "ec2", "iam": "iam"}


def retry_decorator(retries=8, delay=1, max_delay=30):
    """amazon.aws' jittered backoff with the codes hybrid-node calls need."""
    return AWSRetry.jittered_backoff(
        retries=retries, delay=delay, max_delay=max_delay, catch_extra_error_codes=EXTRA_RETRY_CODES)


def aws_client(module, service, retries=8, delay=1):
    """A boto3 client whose calls retry when given ``aws_retry=True``."""
    return module.client(service, retry_decorator=retry_decorator(retries=retries, delay=delay))


def iam_action(service, operation):
    """The IAM action a botocore operation needs: ('eks', 'ListAccessEntries') -> 'eks:ListAccessEntries'."""
    return "%s:%s" % (_IAM_PREFIX.get(service, service), operation)


def error_code(exception):
    """The AWS error code of a botocore ClientError, or None."""
    response = getattr(exception, "response", None) or {}
    return response.get("Error", {}).get("Code")


def hint_for(exception, service, operation):
    """What an operator should do about an AWS error, or '' when nothing specific applies."""
    code = error_code(exception)
    if code in ACCESS_DENIED_CODES:
        return ("The credentials Ansible runs with lack the permission %s; grant it to that "
                "role or user (or run with credentials that have it)." % iam_action(service, operation))
    if code in THROTTLING_CODES:
        return ("AWS kept throttling %s after the retries; lower forks, or run again later."
                % iam_action(service, operation))
    status = (getattr(exception, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if code in SERVER_ERROR_CODES or status >= 500:
        return ("AWS kept answering %s with a server-side error (%s) after the retries; check the AWS Health "
                "Dashboard for the service and region, then run again." % (iam_action(service, operation), code or status))
    if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
        return "The AWS session has expired; refresh the credentials and run again."
    if code == "InvalidClientTokenId":
        return "The AWS access key is not valid in this partition/region; check the credentials and the region."
    return ""


def operation_words(operation):
    """'CreateRoute' -> 'create route', the words a message says the operation with."""
    return " ".join(part.lower() for part in re.findall(r"[A-Z][a-z0-9]*", operation)) or operation


def operation_name(method):
    """The botocore operation of a client method: 'describe_vpn_connections' -> 'DescribeVpnConnections'."""
    return "".join(word.capitalize() for word in method.split("_"))


def fix_when(codes, advice):
    """A ``fix`` for call()/list_all(): ``advice`` when the AWS error code is one of ``codes``, else none."""
    codes = (codes,) if isinstance(codes, str) else tuple(codes)
    return lambda exception: advice if error_code(exception) in codes else None


def fail_aws(module, exception, operation, resource, service=None, fix=None):
    """Fail with 'Failed to <operation> <resource>: <AWS message>. <fix>'.

    ``operation`` is the botocore operation name ('CreateRoute'); its words make
    the message ('create route'); ``service`` lets the message name the exact
    IAM permission on AccessDenied.
    """
    advice = fix or (hint_for(exception, service, operation) if service else "")
    message = "Failed to %s %s" % (operation_words(operation), resource)
    if advice:
        message = "%s. %s" % (message, advice)
    module.fail_json_aws(exception, msg=message)


class AWSPagingError(RuntimeError):
    """A paginated list call that failed: on a page (``cause``: the botocore error) or by never ending.

    ``method`` is the client method, ``operation`` its botocore name, ``page`` the 1-based page that failed
    (or the first page not read, when the pages did not end within the bound).
    """

    def __init__(self, method, page, cause=None, max_pages=None):
        self.method = method
        self.operation = operation_name(method)
        self.page = page
        self.cause = cause
        if cause is None:
            text = "%s returned more than %d pages; stopped." % (method, max_pages)
        else:
            text = "%s failed on page %d: %s" % (method, page, cause)
        super(AWSPagingError, self).__init__(text)


def paginate(client, operation, result_key, max_pages=1000, **kwargs):
    """Every item of a paginated list call, each page retried like any other call.

    botocore's paginators bypass amazon.aws' retry wrapper, so the pages are
    walked here: the token is ``NextToken`` or ``nextToken``, as the service
    names it. The loop is bounded (``max_pages``) so that an endpoint that
    keeps returning tokens cannot hold a run forever. ``client`` comes from
    aws_client(); ``operation`` is the client method. Any failure raises
    AWSPagingError.
    """
    call_page = getattr(client, operation)
    items = []
    token_param, token = None, None
    for count in range(max_pages):
        params = dict(kwargs)
        if token:
            params[token_param] = token
        try:
            page = call_page(aws_retry=True, **params)
        except AWS_ERRORS as exc:
            raise AWSPagingError(operation, count + 1, cause=exc)
        items.extend(page.get(result_key, []))
        token_param = "NextToken" if page.get("NextToken") else "nextToken"
        token = page.get(token_param)
        if not token:
            return items
    raise AWSPagingError(operation, max_pages + 1, max_pages=max_pages)


def _failed(module, exception, operation, resource, service, fix, absent):
    """None when the error code is one of ``absent``; otherwise fail with the collection's message."""
    if error_code(exception) in absent:
        return None
    advice = fix(exception) if callable(fix) else fix
    return fail_aws(module, exception, operation, resource, service=service, fix=advice)


def call(module, client, method, resource, service, fix=None, absent=(), **kwargs):
    """``client.<method>(**kwargs)`` under the retry policy, or the module fails naming ``resource``.

    ``service`` lets the message name the IAM action on AccessDenied; ``fix`` is the advice (a string, or a
    function of the exception returning one or None, see fix_when); an error whose code is in ``absent``
    (the thing is not there, which the caller handles) returns None.
    """
    try:
        return getattr(client, method)(aws_retry=True, **kwargs)
    except AWS_ERRORS as exc:
        return _failed(module, exc, operation_name(method), resource, service, fix, absent)


def list_all(module, client, method, result_key, resource, service, fix=None, absent=(), overflow_resource=None,
             **kwargs):
    """Every item of a paginated ``client.<method>``; a failure fails like call() does (``absent``: None).

    A failure past the first page says which page; pages that never end fail with
    'Failed to <operation> <overflow_resource or resource>: ...'.
    """
    try:
        return paginate(client, method, result_key, **kwargs)
    except AWSPagingError as exc:
        if exc.cause is None:
            return module.fail_json(msg="Failed to %s %s: %s" % (
                operation_words(exc.operation), overflow_resource or resource, exc))
        where = resource if exc.page == 1 else "%s (page %d)" % (resource, exc.page)
        return _failed(module, exc.cause, exc.operation, where, service, fix, absent)


def exit_with_diff(module, changed, key, view, before, after, diff_view=None):
    """Exit with ``changed`` and ``key``: view(after); in diff mode also before/after through ``diff_view`` (or view)."""
    result = {"changed": changed, key: view(after)}
    if module._diff:
        shown = diff_view or view
        result["diff"] = dict(before=shown(before), after=shown(after))
    module.exit_json(**result)
