# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run nodeadm with typed arguments.

Each nodeadm verb is described once (its positional argument and its flags,
with their types and allowed values); ``NodeadmCommand.argv`` turns keyword
options into an argument list, refusing what nodeadm would refuse, and
``NodeadmRunner`` executes it through ``AnsibleModule.run_command`` with a
list, never a shell string. Secrets never travel on the command line: the
NodeConfig is handed over as ``file://PATH``.

nodeadm's exit codes are not enough to know what happened (``init`` before
``install`` exits 0), so callers check post-conditions themselves; this
module only reports rc, stdout and stderr faithfully.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import credential_providers
DEFAULT_BINARY = "/usr/local/bin/nodeadm"

CREDENTIAL_PROVIDERS = credential_providers.NAMES
CONTAINERD_SOURCES = ("none", "distro", "docker")
VALIDATION_PHASES = (
    "install-validation", "cni-validation", "node-ip-validation", "credentials-validation",
    "kubelet-cert-validation", "ssm-api-network-validation", "iam-ra-api-network-validation",
    "aws-auth-validation", "k8s-endpoint-network-validation", "k8s-authentication-validation",
    "kubelet-version-skew-validation", "api-server-endpoint-resolution-validation",
    "proxy-validation", "node-inactive-validation",
)
# nodeadm accepts any --skip name and skips only exact matches, so a typo skips nothing silently; the collection refuses
# names nodeadm does not know. Beside the names its help lists, nodeadm v1.0.19 matches cluster-access-validation
# (internal/node/hybrid/hybrid.go), ssm-api-network and iam-ra-api-network (internal/creds/validation.go).
HIDDEN_PHASES = ("cluster-access-validation", "ssm-api-network", "iam-ra-api-network")
INIT_PHASES = ("preprocess", "config", "run") + VALIDATION_PHASES + HIDDEN_PHASES
UNINSTALL_PHASES = ("pod-validation", "node-validation")
# upgrade also runs init-validation and the drain checks, and upgrades containerd's major version
# (cmd/nodeadm/upgrade/upgrade.go, internal/flows/upgrade.go).
UPGRADE_PHASES = INIT_PHASES + ("init-validation",) + UNINSTALL_PHASES + ("containerd-major-version-upgrade",)

KUBERNETES_VERSION_RE = re.compile(r"^1\.\d{2}(\.\d{1,3})?$")
DURATION_RE = re.compile(r"^(\d+h)?(\d+m)?(\d+s)?$")


# containerd's source per OS (/etc/os-release ID): nodeadm refuses distro on RHEL and docker on Amazon Linux 2023
# (aws/eks-hybrid internal/containerd/install.go), and installs distro's otherwise by default.
CONTAINERD_SOURCE_BY_OS = {"rhel": "docker", "amzn": "distro"}
CONTAINERD_SOURCE_REFUSED = {"rhel": "distro", "amzn": "docker"}


def containerd_source_for(os_id, wanted=None):
    """(source, problem): the containerd source to install on an OS with this os-release ID (wanted, else the OS's
    default), and why nodeadm would refuse it (None when it would not)."""
    os_id = (os_id or "").strip().strip('"').lower()
    source = wanted or CONTAINERD_SOURCE_BY_OS.get(os_id, "distro")
    if CONTAINERD_SOURCE_REFUSED.get(os_id) == source:
        other = CONTAINERD_SOURCE_BY_OS[os_id]
        return source, ("nodeadm refuses containerd source %s on %s (internal/containerd/install.go); set "
                        "containerd_source (hybrid_containerd_source) to %s or none" % (source, os_id, other))
    return source, None


def os_release_id(text):
    """The ID of an /etc/os-release text (empty when absent)."""
    for line in (text or "").splitlines():
        if line.startswith("ID="):
            return line[3:].strip().strip('"').lower()
    return ""


# A NodeConfig's activation code, in YAML (quoted or not) or JSON: nodeadm can print it back (its config in a log line,
# `nodeadm debug`), so the module masks it before running anything.
_ACTIVATION_CODE_RE = re.compile(r"""["']?activationCode["']?\s*:\s*(?:"([^"\n]*)"|'([^'\n]*)'|([^\s,}#"'][^\n,}#]*))""")


def config_secrets(text):
    """The secret values (SSM activation codes) in a NodeConfig's text; stdlib only, no YAML parser on the host."""
    found = set()
    for match in _ACTIVATION_CODE_RE.finditer(text or ""):
        value = next(group for group in match.groups() if group is not None).strip()
        if value:
            found.add(value)
    return found


class NodeadmArgumentError(ValueError):
    """An option nodeadm would refuse, caught before nodeadm runs."""


def _check_choice(name, value, choices):
    if value not in choices:
        raise NodeadmArgumentError("%s=%r is not one of %s" % (name, value, ", ".join(choices)))
    return value


def _kubernetes_version(name, value):
    text = str(value)
    if not KUBERNETES_VERSION_RE.match(text):
        raise NodeadmArgumentError("%s=%r is not a Kubernetes version such as 1.31 or 1.31.2" % (name, value))
    return text


def _duration(name, value):
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise NodeadmArgumentError("%s must be positive, not %d" % (name, value))
        return "%ds" % value
    text = str(value)
    if not text or not DURATION_RE.match(text):
        raise NodeadmArgumentError("%s=%r is not a duration such as 20m, 90s or 1h30m" % (name, value))
    return text


def _source(prefixes):
    def check(name, value):
        text = str(value)
        if not text.startswith(prefixes):
            raise NodeadmArgumentError("%s=%r must start with %s" % (name, value, " or ".join(prefixes)))
        return text
    return check


def _phases(allowed):
    def check(name, value):
        phases = [value] if isinstance(value, str) else list(value)
        unknown = [phase for phase in phases if phase not in allowed]
        if unknown:
            raise NodeadmArgumentError("%s has unknown phases %s; known: %s" % (name, ", ".join(unknown), ", ".join(allowed)))
        return ",".join(phases)
    return check


def _choices(choices):
    return lambda name, value: _check_choice(name, value, choices)


def _text(name, value):
    return str(value)


# option name -> (flag, converter); converter None marks a boolean switch.
_CONFIG_SOURCE = ("--config-source", _source(("file://", "imds://")))
_MANIFEST = ("--manifest-override", _source(("file://", "https://")))
VERBS = {
    "install": {
        "positional": ("kubernetes_version", _kubernetes_version),
        "required": ("credential_provider",),
        "flags": {
            "credential_provider": ("--credential-provider", _choices(CREDENTIAL_PROVIDERS)),
            "containerd_source": ("--containerd-source", _choices(CONTAINERD_SOURCES)),
            "region": ("--region", _text),
            "manifest_override": _MANIFEST,
            "private_mode": ("--private-mode", None),
            "timeout": ("--timeout", _duration),
        },
    },
    "init": {
        "required": ("config_source",),
        "flags": {
            "config_source": _CONFIG_SOURCE,
            "skip": ("--skip", _phases(INIT_PHASES)),
            "manifest_override": _MANIFEST,
            "private_mode": ("--private-mode", None),
        },
    },
    "upgrade": {
        "positional": ("kubernetes_version", _kubernetes_version),
        "required": ("config_source",),
        "flags": {
            "config_source": _CONFIG_SOURCE,
            "skip": ("--skip", _phases(UPGRADE_PHASES)),
            # For air-gapped upgrades, as for install (cmd/nodeadm/upgrade/upgrade.go).
            "manifest_override": _MANIFEST,
            "private_mode": ("--private-mode", None),
            "timeout": ("--timeout", _duration),
        },
    },
    "uninstall": {
        "flags": {
            "skip": ("--skip", _phases(UNINSTALL_PHASES)),
            "force": ("--force", None),
        },
    },
    "debug": {
        "flags": {
            "config_source": _CONFIG_SOURCE,
            "no_color": ("--no-color", None),
        },
    },
    "config check": {"required": ("config_source",), "flags": {"config_source": _CONFIG_SOURCE}},
}
# nodeadm has no ``version`` verb: its version is the global flag ``--version``.
VERSION_FLAG = "--version"


def build_argv(binary, verb, **options):
    """The argument list for one nodeadm call; NodeadmArgumentError for anything nodeadm would refuse.

    Options whose value is None are left out, so callers can pass every
    option they know of and let the defaults of nodeadm apply.
    """
    if verb not in VERBS:
        raise NodeadmArgumentError("unknown nodeadm verb %r; known: %s" % (verb, ", ".join(sorted(VERBS))))
    spec = VERBS[verb]
    options = dict((key, value) for key, value in options.items() if value is not None)
    argv = [binary] + verb.split()
    positional = spec.get("positional")
    if positional:
        name, convert = positional
        if name not in options:
            raise NodeadmArgumentError("nodeadm %s needs %s" % (verb, name))
        argv.append(convert(name, options.pop(name)))
    missing = [name for name in spec.get("required", ()) if name not in options]
    if missing:
        raise NodeadmArgumentError("nodeadm %s needs %s" % (verb, ", ".join(missing)))
    unknown = sorted(set(options) - set(spec["flags"]))
    if unknown:
        raise NodeadmArgumentError("nodeadm %s has no option %s" % (verb, ", ".join(unknown)))
    for name, (flag, convert) in spec["flags"].items():
        if name not in options:
            continue
        value = options[name]
        if convert is None:
            if value:
                argv.append(flag)
            continue
        argv.extend([flag, convert(name, value)])
    return argv


class NodeadmResult:
    """What one nodeadm call did."""

    def __init__(self, argv, rc, stdout, stderr, attempts=1):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.attempts = attempts

    @property
    def ok(self):
        return self.rc == 0

    def as_dict(self):
        return {"cmd": self.argv, "rc": self.rc, "stdout": self.stdout, "stderr": self.stderr, "attempts": self.attempts}


class NodeadmRunner:
    """Runs nodeadm through an AnsibleModule, with argument lists and bounded retries."""

    def __init__(self, module, binary=DEFAULT_BINARY, environ=None, sleep=time.sleep):
        self.module = module
        self.binary = binary
        self.environ = dict(environ or {})
        self._sleep = sleep

    def argv(self, verb, **options):
        return build_argv(self.binary, verb, **options)

    def run(self, verb, **options):
        """Run one nodeadm verb once; never raises on a non-zero exit."""
        argv = self.argv(verb, **options)
        rc, stdout, stderr = self.module.run_command(argv, environ_update=self.environ, check_rc=False)
        return NodeadmResult(argv, rc, stdout, stderr)

    def version(self):
        """``nodeadm --version`` (nodeadm has no ``version`` verb); never raises on a non-zero exit."""
        argv = [self.binary, VERSION_FLAG]
        rc, stdout, stderr = self.module.run_command(argv, environ_update=self.environ, check_rc=False)
        return NodeadmResult(argv, rc, stdout, stderr)

    def run_with_retries(self, verb, attempts=3, delay=5, **options):
        """Run until exit 0, at most ``attempts`` times, ``delay`` seconds apart (doubling)."""
        if attempts < 1:
            raise NodeadmArgumentError("attempts must be at least 1")
        result = None
        for attempt in range(1, attempts + 1):
            result = self.run(verb, **options)
            result.attempts = attempt
            if result.ok:
                return result
            if attempt < attempts:
                self._sleep(delay * (2 ** (attempt - 1)))
        return result
