#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: palette_agent_install
short_description: Download the Palette agent installer, verified, and run it once, through a proxy kept out of the logs
version_added: 0.1.0
author: hybridnodes.eks maintainers (!UNKNOWN)
description:
  - Palette agent mode, as the Palette guide does it by hand; the user-data in a file, C(USERDATA) pointing at it, the
    installer C(palette-agent-install.sh) run once as root with the site proxy in its environment.
  - V(state=downloaded) places the installer from O(url) at O(dest) (mode 0700, owned by the user the module runs as),
    verified against O(sha256) when given, and records the URL it came from in C(<dest>.url). The installer is fetched
    again when the recorded URL differs from O(url), when O(dest) is missing, or when O(dest) does not match O(sha256);
    otherwise the URL is not contacted.
  - V(state=installed) does the same, then runs O(dest) with C(USERDATA) set to O(user_data) unless O(creates)
    exists; a host where O(creates) exists is left alone, nothing downloaded.
  - The proxy is an option, not the task's C(environment), which Ansible shows at C(-vvv) (it prefixes the remote
    command line) and the host's process list shows while the module runs, with any C(user:password) of the URL. The
    module puts it into its own process environment alone, for the download and for the installer.
  - The module masks the proxy URL, its password (as written and decoded) and C(user:password), and the registration
    token of O(user_data) (C(edgeHostToken)), in everything it returns, the installer's output included.
options:
  url:
    description:
      - Where the installer is downloaded from, http or https. Plain http needs O(sha256), since the script runs as
        root.
    type: str
    required: true
  sha256:
    description:
      - The sha256 hex digest of the installer. A download that does not match fails and leaves O(dest) as it was.
      - Empty for no check.
    type: str
    default: ""
  dest:
    description:
      - Where the installer is placed on the host. Its directory must exist (in check mode it may be one an earlier
        task only predicted).
    type: path
    default: /opt/palette/palette-agent-install.sh
  state:
    description:
      - V(downloaded) places the installer only.
      - V(installed) places it and runs it unless O(creates) exists.
    type: str
    choices: [downloaded, installed]
    default: installed
  user_data:
    description:
      - The Palette user-data on the host, passed to the installer as C(USERDATA). Required with V(state=installed).
      - Its C(edgeHostToken) is masked in the result.
    type: path
  version:
    description: The Palette agent version passed to the installer as C(VERSION); empty for the installer's default.
    type: str
    default: ""
  creates:
    description:
      - A file the installed agent leaves (its systemd unit); while it exists the installer is neither downloaded nor
        run with V(state=installed).
    type: path
    default: /etc/systemd/system/spectro-stylus-agent.service
  proxy:
    description:
      - The HTTP(S) proxy of the site (C(hybrid_proxy)), such as V(http://user:password@proxy.example.com:3128). The
        download goes through it, and the installer gets it as C(http_proxy), C(https_proxy), C(HTTP_PROXY) and
        C(HTTPS_PROXY), as the Palette guide exports it.
      - Give it here, not as the task's C(environment). Unset or empty, the module's environment is used as it is.
    type: str
  timeout:
    description: Seconds the download may wait for the server at a time.
    type: int
    default: 60
notes:
  - The installer runs for as long as it takes; bound it with the task keyword C(timeout).
seealso:
  - name: Palette agent mode
    description: Install Palette agent, the guide this module follows.
    link: https://docs.spectrocloud.com/deployment-modes/agent-mode/install-agent-host/
attributes:
  check_mode:
    support: full
    details: Predicts the download and the installer run from the files on the host, and contacts no URL.
  diff_mode:
    support: full
    details: The installer (its source URL and sha256) and whether the agent is installed, before and after.
extends_documentation_fragment: [hybridnodes.eks.attributes]
"""

EXAMPLES = r"""
- name: Download the installer of one agent release, verified
  hybridnodes.eks.palette_agent_install:
    url: https://github.com/spectrocloud/agent-mode/releases/download/v4.6.0/palette-agent-install.sh
    sha256: "{{ palette_installer_sha256 }}"
    state: downloaded
    proxy: "{{ hybrid_proxy | default(omit, true) }}"

- name: Run it once with the user-data placed before
  hybridnodes.eks.palette_agent_install:
    url: https://github.com/spectrocloud/agent-mode/releases/download/v4.6.0/palette-agent-install.sh
    sha256: "{{ palette_installer_sha256 }}"
    user_data: /opt/palette/user-data
    proxy: "{{ hybrid_proxy | default(omit, true) }}"
  no_log: true
"""

RETURN = r"""
url:
  description: The installer URL.
  returned: always
  type: str
  sample: https://github.com/spectrocloud/agent-mode/releases/download/v4.6.0/palette-agent-install.sh
dest:
  description: Where the installer is.
  returned: always
  type: str
  sample: /opt/palette/palette-agent-install.sh
sha256:
  description: The sha256 of the installer at O(dest) after the run (in check mode, before it); null when absent.
  returned: always
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
downloaded:
  description: Whether the installer was fetched (in check mode, would be).
  returned: always
  type: bool
  sample: true
download_reason:
  description: Why the installer was fetched; null when it was not.
  returned: always
  type: str
  sample: the installer at /opt/palette/palette-agent-install.sh came from another URL
installed:
  description: Whether the installer ran (in check mode, would run).
  returned: always
  type: bool
  sample: true
rc:
  description: The installer's exit code.
  returned: when the installer ran
  type: int
  sample: 0
stdout:
  description: The installer's standard output, secrets masked.
  returned: when the installer ran
  type: str
stderr:
  description: The installer's standard error, secrets masked.
  returned: when the installer ran
  type: str
reason:
  description: Why the download failed, without the fix that the failure message adds.
  returned: when the download fails
  type: str
  sample: its sha256 checksum is 9f86d0..., not the expected 60303a...; /opt/palette/palette-agent-install.sh is left as it was
"""

import hashlib
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import proxy

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# The registration token line of a Palette user-data (edgeHostToken: VALUE, quoted or not).
TOKEN_RE = re.compile(r"""^\s*edgeHostToken\s*:\s*["']?([^"'\s#]+)""", re.M)
PROXY_NAMES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
CHUNK = 65536


def option_problems(params):
    """Why the options cannot work; never quotes the proxy."""
    problems = proxy.proxy_problems(params["proxy"], "proxy")
    url = params["url"] or ""
    scheme, _sep, rest = url.partition("://")
    if scheme.lower() not in ("http", "https") or not rest.split("/", 1)[0]:
        problems.append("url %s is not an http(s) URL with a host. Fix: give the URL of palette-agent-install.sh." % url)
    elif scheme.lower() == "http" and not params["sha256"]:
        problems.append("url %s is plain http without sha256; the script runs as root. Fix: use https, or give the "
                        "sha256 of the installer." % url)
    if params["sha256"] and not SHA256_RE.match(params["sha256"]):
        problems.append("sha256 is not 64 hex digits. Fix: give the bare digest (sha256sum palette-agent-install.sh).")
    if params["timeout"] <= 0:
        problems.append("timeout must be 1 or more seconds, not %s." % params["timeout"])
    return problems


def download_reason(dest_exists, recorded_url, url, expected_sha256, dest_sha256):
    """Why the installer must be fetched, or None: the role's rule (a changed URL fetches it again, an existing file
    from the same URL is kept unless it fails the checksum)."""
    if not dest_exists:
        return "no installer at the destination yet"
    if recorded_url != url:
        return "the installer on the host came from %s" % (recorded_url or "an unrecorded URL")
    if expected_sha256 and dest_sha256 != expected_sha256:
        return "the installer on the host does not match the sha256"
    return None


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def write_atomically(module, path, data, mode):
    handle, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".%s." % os.path.basename(path))
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.chmod(tmp, mode)
    module.atomic_move(tmp, path)


def fetch(module, url, dest, expected_sha256):
    """Download url into a temporary file beside dest, verify it, and move it over dest only when different.
    Returns (changed, sha256). The temporary file never outlives a failure."""
    params = module.params
    response, info = fetch_url(module, url, timeout=params["timeout"])
    if info.get("status") != 200 or response is None:
        reason = "the request failed: %s (HTTP status %s)" % (info.get("msg", "no response"), info.get("status"))
        module.fail_json(msg="Downloading the Palette agent installer from %s failed, %s. Fix: check that the URL is "
                             "reachable from this host, through the proxy (option proxy, hybrid_proxy) when the site has "
                             "one." % (url, reason), reason=reason, url=url, dest=dest, status=info.get("status"))
    handle, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".%s." % os.path.basename(dest))
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out:
            for block in iter(lambda: response.read(CHUNK), b""):
                digest.update(block)
                out.write(block)
        actual = digest.hexdigest()
        if expected_sha256 and actual != expected_sha256:
            reason = "its sha256 checksum is %s, not the expected %s; %s is left as it was" % (
                actual, expected_sha256, dest)
            module.fail_json(msg="The download from %s failed verification, %s. Fix: give the sha256 of that "
                                 "installer, or the URL of the installer the sha256 belongs to." % (url, reason),
                             reason=reason, url=url, dest=dest, sha256=actual)
        if os.path.exists(dest) and file_sha256(dest) == actual:
            return False, actual
        os.chmod(tmp, 0o700)
        module.atomic_move(tmp, dest)
        return True, actual
    except Exception as exc:  # a read or write failure: name it, nothing placed
        reason = "reading or writing it failed: %s" % exc
        module.fail_json(msg="Downloading the Palette agent installer from %s into %s failed, %s. Fix: check the "
                             "connection and the free space of %s." % (url, dest, reason, os.path.dirname(dest)),
                         reason=reason, url=url, dest=dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return False, None  # not reached: fail_json exits


def set_attributes(module, path, mode, changed):
    """The file's mode and owner as the role sets them (owned by the user the module runs as, root under become)."""
    changed = module.set_mode_if_different(path, mode, changed)
    changed = module.set_owner_if_different(path, str(os.geteuid()), changed)
    return module.set_group_if_different(path, str(os.getegid()), changed)


def ensure_installer(module, result):
    """state=downloaded: the installer from url at dest, verified, with its URL recorded."""
    params = module.params
    url, dest, expected = params["url"], params["dest"], params["sha256"]
    record = dest + ".url"
    directory = os.path.dirname(dest)
    if not os.path.isdir(directory):
        if module.check_mode:  # an earlier task may only have predicted the directory
            result.update(downloaded=True, download_reason="no installer at the destination yet", changed=True)
            return
        module.fail_json(msg="The directory %s of the Palette agent installer does not exist. Fix: create it first "
                             "(mode 0700, as the role hybridnodes.eks.palette_artifacts does)." % directory, **result)
    exists = os.path.isfile(dest)
    recorded = (read_text(record) or "").strip()
    before_sha256 = file_sha256(dest) if exists else None
    reason = download_reason(exists, recorded, url, expected, before_sha256)
    result.update(sha256=before_sha256, downloaded=reason is not None, download_reason=reason)
    changed = False
    if reason and module.check_mode:
        changed = True
    elif reason:
        changed, result["sha256"] = fetch(module, url, dest, expected)
    if os.path.exists(dest):
        changed = set_attributes(module, dest, "0700", changed)
    if recorded != url:
        if not module.check_mode:
            write_atomically(module, record, (url + "\n").encode("utf-8"), 0o600)
        changed = True
    if os.path.exists(record):
        changed = set_attributes(module, record, "0600", changed)
    if changed and module._diff:
        after_sha256 = result["sha256"] or expected or "(from the download)"
        template = "installer: %s\nurl: %s\nsha256: %s\n"
        result["diff"] = dict(before=template % (dest, recorded or "(none)", before_sha256),
                              after=template % (dest, url, after_sha256))
    result["changed"] = result["changed"] or changed


def run_installer(module, result):
    """state=installed: run the installer with USERDATA, VERSION and the proxy in its environment alone."""
    params = module.params
    dest = params["dest"]
    result["installed"] = True
    result["changed"] = True
    if module._diff:
        diff = result.setdefault("diff", dict(before="", after=""))
        diff["before"] += "agent: absent (%s missing)\n" % params["creates"]
        diff["after"] += "agent: installed by %s\n" % dest
    if module.check_mode:
        return
    if not os.path.isfile(params["user_data"]):
        module.fail_json(msg="The user-data %s the Palette agent installer reads (USERDATA) does not exist. Fix: place "
                             "it first (the role hybridnodes.eks.palette_artifacts does)." % params["user_data"], **result)
    environment = dict(proxy.proxy_environment(params["proxy"], names=PROXY_NAMES, no_proxy_names=()),
                       USERDATA=params["user_data"])
    if params["version"]:
        environment["VERSION"] = params["version"]
    rc, out, err = module.run_command([dest], environ_update=environment)
    result.update(rc=rc, stdout=out, stderr=err, stdout_lines=out.splitlines(), stderr_lines=err.splitlines())
    if rc != 0:
        last = (out.strip().splitlines()[-5:] + err.strip().splitlines()[-5:])
        module.fail_json(msg="The Palette agent installer %s from %s exited %s: %s. Fix: correct the cause the "
                             "installer names (token, project, prerequisites) and re-run."
                             % (dest, params["url"], rc, " / ".join(last) or "(no output)"), **result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            sha256=dict(type="str", default=""),
            dest=dict(type="path", default="/opt/palette/palette-agent-install.sh"),
            state=dict(type="str", default="installed", choices=["downloaded", "installed"]),
            user_data=dict(type="path"),
            version=dict(type="str", default=""),
            creates=dict(type="path", default="/etc/systemd/system/spectro-stylus-agent.service"),
            proxy=dict(type="str", no_log=True),
            timeout=dict(type="int", default=60),
        ),
        required_if=[("state", "installed", ("user_data",))],
        supports_check_mode=True,
    )
    params = module.params
    # The whole proxy URL is masked by no_log; its password may also appear on its own, decoded, or as user:password,
    # and the installer URL may carry credentials of a mirror.
    module.no_log_values.update(proxy.secret_parts(params["proxy"]))
    module.no_log_values.update(proxy.secret_parts(params["url"]))
    if params["user_data"]:
        module.no_log_values.update(TOKEN_RE.findall(read_text(params["user_data"]) or ""))
    params["sha256"] = (params["sha256"] or "").strip().lower()
    problems = option_problems(params)
    if problems:
        module.fail_json(msg="palette_agent_install: " + " ".join(problems), problems=problems)

    result = dict(changed=False, url=params["url"], dest=params["dest"], sha256=None, downloaded=False,
                  download_reason=None, installed=False)
    if params["state"] == "installed" and os.path.exists(params["creates"]):
        result["sha256"] = file_sha256(params["dest"]) if os.path.isfile(params["dest"]) else None
        module.exit_json(msg="%s exists: the Palette agent is installed, nothing done" % params["creates"], **result)
    # The download honours the proxy variables of the module's own process (urllib's ProxyHandler reads them).
    os.environ.update(proxy.proxy_environment(params["proxy"], names=PROXY_NAMES, no_proxy_names=()))
    ensure_installer(module, result)
    if params["state"] == "installed":
        run_installer(module, result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
