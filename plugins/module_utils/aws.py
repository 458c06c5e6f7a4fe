# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS access shared by the collection's AWS modules.

Built on amazon.aws: modules are ``AnsibleAWSModule`` instances (which bring
the region, credential and ``endpoint_url`` options; ``endpoint_url`` is how
the lab and other emulators are reached), clients come with amazon.aws'
jittered backoff, and failures go through ``fail_json_aws`` with a message
that names the operation, the resource and what to do about it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

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


def fail_aws(module, exception, operation, resource, service=None, fix=None):
    """Fail with 'Failed to <operation> <resource>: <AWS message>. <fix>'.

    ``operation`` is the botocore operation name ('CreateRoute'); its words make
    the message ('create route'); ``service`` lets the message name the exact
    IAM permission on AccessDenied.
    """
    words = " ".join(part.lower() for part in re.findall(r"[A-Z][a-z0-9]*", operation)) or operation
    advice = fix or (hint_for(exception, service, operation) if service else "")
    message = "Failed to %s %s" % (words, resource)
    if advice:
        message = "%s. %s" % (message, advice)
    module.fail_json_aws(exception, msg=message)


def paginate(client, operation, result_key, max_pages=1000, **kwargs):
    """Every item of a paginated list call, each page retried like any other call.

    botocore's paginators bypass amazon.aws' retry wrapper, so the pages are
    walked here: the token is ``NextToken`` or ``nextToken``, as the service
    names it. The loop is bounded (``max_pages``) so that an endpoint that
    keeps returning tokens cannot hold a run forever. ``client`` comes from
    aws_client().
    """
    call = getattr(client, operation)
    items = []
    token_param, token = None, None
    for _count in range(max_pages):
        params = dict(kwargs)
        if token:
            params[token_param] = token
        page = call(aws_retry=True, **params)
        items.extend(page.get(result_key, []))
        token_param = "NextToken" if page.get("NextToken") else "nextToken"
        token = page.get(token_param)
        if not token:
            return items
    raise RuntimeError("%s returned more than %d pages; stopped." % (operation, max_pages))


def exit_with_diff(module, changed, key, view, before, after, diff_view=None):
    """Exit with ``changed`` and ``key``: view(after); in diff mode also before/after through ``diff_view`` (or view)."""
    result = {"changed": changed, key: view(after)}
    if module._diff:
        shown = diff_view or view
        result["diff"] = dict(before=shown(before), after=shown(after))
    module.exit_json(**result)
