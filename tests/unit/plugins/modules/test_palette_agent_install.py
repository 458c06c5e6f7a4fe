# -*- coding: utf-8 -*-
"""palette_agent_install through main(), against a local HTTP server on 127.0.0.1 (the installer's origin, and in the
proxy tests a proxy in front of a host name that does not resolve, so the download can only succeed through it): the
download is verified and recorded, a changed URL fetches again, a checksum mismatch leaves nothing, check mode contacts
nothing and changes nothing, the proxy reaches the download and the installer's environment, and neither its password
nor the user-data token reaches the result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import os
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.modules import palette_agent_install as module_under_test

PASSWORD = "Pa%2Flette-7x"
DECODED = "Pa/lette-7x"
TOKEN = "tok0123456789abcdef0123456789abcd"
UNRESOLVABLE = "http://palette-mirror.invalid/palette-agent-install.sh"


class Site:
    """A test double of the installer's web server and of the site proxy, in one local server: counts the requests
    per path, records the proxy credentials of requests that come as a proxy's (absolute URL), refuses those without
    the expected credentials with 407."""

    def __init__(self):
        self.files = {}
        self.requests = []
        self.proxied = []
        self.proxy_credentials = None
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path
                if path.startswith("http://"):
                    authorization = self.headers.get("Proxy-Authorization")
                    site.proxied.append((path, authorization))
                    if authorization != site.proxy_credentials:
                        self.send_response(407)
                        self.send_header("Proxy-Authenticate", 'Basic realm="site"')
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    path = urlsplit(path).path + ("?" + urlsplit(path).query if urlsplit(path).query else "")
                site.requests.append(path)
                body = site.files.get(path.split("?", 1)[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    served = Site()
    yield served
    served.close()


@pytest.fixture
def host(tmp_path, monkeypatch):
    """The host's paths, and a clean proxy environment (restored after the test: the module sets the proxy variables in
    its own process, which is the test's here)."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "VERSION",
                 "USERDATA"):
        monkeypatch.delenv(name, raising=False)
    agent = tmp_path / "palette"
    agent.mkdir(mode=0o700)
    user_data = agent / "user-data"
    user_data.write_text("edgeHostToken: '%s'\nprojectName: lab\n" % TOKEN)
    return {"tmp": tmp_path, "dir": agent, "dest": str(agent / "palette-agent-install.sh"),
            "user_data": str(user_data), "creates": str(tmp_path / "spectro-stylus-agent.service"),
            "env_out": str(tmp_path / "installer.env")}


def installer(host, rc=0):
    """A stand-in installer: writes its environment beside the test, prints the proxy and the user-data token (as a
    careless installer might), leaves the agent's unit on success."""
    text = ("#!/bin/sh\nenv > %s\necho \"fetching the agent via $https_proxy\"\necho \"as ${https_proxy#*//}\"\n"
            "echo \"user-data: $(cat \"$USERDATA\")\" >&2\n" % host["env_out"])
    if rc == 0:
        text += "touch %s\n" % host["creates"]
    return (text + "exit %d\n" % rc).encode()


def publish(site, host, path="/palette-agent-install.sh", rc=0):
    body = installer(host, rc)
    site.files[path] = body
    return hashlib.sha256(body).hexdigest()


def run(capsys, host, check=False, **options):
    options.setdefault("dest", host["dest"])
    options.setdefault("creates", host["creates"])
    args = dict(options, _ansible_check_mode=check, _ansible_diff=True, _ansible_remote_tmp=str(host["tmp"] / "remote"))
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module_under_test.main()
    return json.loads(capsys.readouterr().out)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_download_places_the_installer_verified_and_records_its_url(capsys, site, host):
    sha256 = publish(site, host)
    url = site.base + "/palette-agent-install.sh"
    result = run(capsys, host, url=url, sha256=sha256.upper(), state="downloaded")
    assert result["changed"] is True and result["downloaded"] is True and result["installed"] is False, result
    assert result["sha256"] == sha256 and site.requests == ["/palette-agent-install.sh"]
    assert hashlib.sha256(open(host["dest"], "rb").read()).hexdigest() == sha256
    assert mode(host["dest"]) == 0o700
    assert open(host["dest"] + ".url").read() == url + "\n" and mode(host["dest"] + ".url") == 0o600
    assert sorted(os.listdir(host["dir"])) == ["palette-agent-install.sh", "palette-agent-install.sh.url", "user-data"]
    assert not os.path.exists(host["env_out"])  # downloaded, not run
    # A re-run from the same URL keeps the verified file and contacts nothing.
    again = run(capsys, host, url=url, sha256=sha256, state="downloaded")
    assert again["changed"] is False and again["downloaded"] is False and len(site.requests) == 1, again


def test_a_changed_url_fetches_the_installer_again(capsys, site, host):
    sha256 = publish(site, host)
    url = site.base + "/palette-agent-install.sh"
    run(capsys, host, url=url, sha256=sha256, state="downloaded")
    assert run(capsys, host, url=url, sha256=sha256, state="downloaded")["changed"] is False and len(site.requests) == 1
    # The same file under another URL: fetched again, although the file on the host matches the sha256.
    result = run(capsys, host, url=url + "?release=2", sha256=sha256, state="downloaded")
    assert site.requests[-1] == "/palette-agent-install.sh?release=2" and len(site.requests) == 2
    assert result["changed"] is True and "came from %s" % url in result["download_reason"]
    assert open(host["dest"] + ".url").read() == url + "?release=2\n"
    assert "url: %s\n" % url in result["diff"]["before"] and "?release=2" in result["diff"]["after"]


def test_a_file_that_fails_the_sha256_is_fetched_again(capsys, site, host):
    sha256 = publish(site, host)
    url = site.base + "/palette-agent-install.sh"
    run(capsys, host, url=url, sha256=sha256, state="downloaded")
    with open(host["dest"], "w") as handle:
        handle.write("#!/bin/sh\necho tampered\n")
    result = run(capsys, host, url=url, sha256=sha256, state="downloaded")
    assert result["changed"] is True and result["download_reason"] == "the installer on the host does not match the sha256"
    assert hashlib.sha256(open(host["dest"], "rb").read()).hexdigest() == sha256 and len(site.requests) == 2


def test_a_checksum_mismatch_fails_naming_the_url_and_leaves_nothing(capsys, site, host):
    publish(site, host)
    url = site.base + "/palette-agent-install.sh"
    result = run(capsys, host, url=url, sha256="0" * 64, state="downloaded")
    assert result["failed"] is True and url in result["msg"] and "checksum" in result["reason"], result
    assert "not the expected " + "0" * 64 in result["msg"] and "Fix:" in result["msg"]
    assert os.listdir(host["dir"]) == ["user-data"]  # no installer, no temporary file, no record


def test_a_missing_installer_fails_naming_the_url_and_status(capsys, site, host):
    url = site.base + "/gone/palette-agent-install.sh"
    result = run(capsys, host, url=url, sha256="a" * 64, state="downloaded")
    assert result["failed"] is True and url in result["msg"] and "HTTP status 404" in result["msg"], result
    assert os.listdir(host["dir"]) == ["user-data"]


def test_the_installer_runs_once_with_userdata_and_version(capsys, site, host):
    sha256 = publish(site, host)
    url = site.base + "/palette-agent-install.sh"
    result = run(capsys, host, url=url, sha256=sha256, user_data=host["user_data"], version="4.6.0")
    assert result["changed"] is True and result["installed"] is True and result["rc"] == 0, result
    environment = open(host["env_out"]).read().splitlines()
    assert "USERDATA=%s" % host["user_data"] in environment and "VERSION=4.6.0" in environment
    assert not [line for line in environment if "proxy" in line.lower()]  # no proxy given, none added
    assert TOKEN not in json.dumps(result) and "********" in result["stderr"]
    assert "agent: installed by" in result["diff"]["after"]
    # The agent's unit exists now: nothing is downloaded or run again.
    os.remove(host["env_out"])
    again = run(capsys, host, url=url, sha256=sha256, user_data=host["user_data"])
    assert again["changed"] is False and again["installed"] is False and not os.path.exists(host["env_out"]), again
    assert len(site.requests) == 1


def test_the_proxy_reaches_the_download_and_the_installer_and_its_password_never_the_result(capsys, site, host):
    sha256 = publish(site, host)
    proxy = "http://agent:%s@%s" % (PASSWORD, site.base.split("://", 1)[1])
    site.proxy_credentials = "Basic " + base64.b64encode(("agent:" + DECODED).encode()).decode()
    result = run(capsys, host, url=UNRESOLVABLE, sha256=sha256, user_data=host["user_data"], proxy=proxy)
    assert result["changed"] is True and result["rc"] == 0, result
    assert site.proxied == [(UNRESOLVABLE, site.proxy_credentials)]  # through the proxy, with its credentials
    environment = open(host["env_out"]).read().splitlines()
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        assert "%s=%s" % (name, proxy) in environment, name
    assert not [line for line in environment if line.lower().startswith("no_proxy=")]
    text = json.dumps(result)
    for secret in (PASSWORD, DECODED, "agent:" + PASSWORD, proxy, TOKEN):
        assert secret not in text, secret
    assert "fetching the agent via ********" in result["stdout"] and "as ********@127.0.0.1:" in result["stdout"]
    assert result["invocation"]["module_args"]["proxy"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_a_proxy_that_refuses_the_credentials_fails_naming_the_url_not_the_password(capsys, site, host):
    sha256 = publish(site, host)
    site.proxy_credentials = "Basic something-else"
    proxy = "http://agent:%s@%s" % (PASSWORD, site.base.split("://", 1)[1])
    result = run(capsys, host, url=UNRESOLVABLE, sha256=sha256, state="downloaded", proxy=proxy)
    assert result["failed"] is True and UNRESOLVABLE in result["msg"] and "407" in result["msg"], result
    assert "option proxy" in result["msg"]
    for secret in (PASSWORD, DECODED):
        assert secret not in json.dumps(result)
    assert os.listdir(host["dir"]) == ["user-data"]


def test_an_installer_failure_fails_with_its_last_lines_token_masked(capsys, site, host):
    sha256 = publish(site, host, rc=3)
    url = site.base + "/palette-agent-install.sh"
    result = run(capsys, host, url=url, sha256=sha256, user_data=host["user_data"])
    assert result["failed"] is True and result["rc"] == 3 and result["changed"] is True, result
    assert "exited 3" in result["msg"] and url in result["msg"] and "user-data: edgeHostToken: '********'" in result["msg"]
    assert TOKEN not in json.dumps(result) and result["stderr_lines"][0] == "user-data: edgeHostToken: '********'"
    assert not os.path.exists(host["creates"])


def test_check_mode_on_a_fresh_host_predicts_and_contacts_nothing(capsys, site, host):
    sha256 = publish(site, host)
    url = site.base + "/palette-agent-install.sh"
    # The directory an earlier task only predicted.
    dest = str(host["tmp"] / "not-yet" / "palette-agent-install.sh")
    result = run(capsys, host, check=True, url=url, sha256=sha256, user_data=host["user_data"], dest=dest)
    assert result["changed"] is True and result["downloaded"] is True and result["installed"] is True, result
    assert site.requests == [] and not os.path.exists(os.path.dirname(dest)) and not os.path.exists(host["env_out"])
    # The directory exists: the download alone is predicted, the attributes and the record too.
    result = run(capsys, host, check=True, url=url, sha256=sha256, state="downloaded")
    assert result["changed"] is True and result["downloaded"] is True and "rc" not in result
    assert site.requests == [] and os.listdir(host["dir"]) == ["user-data"]


def test_check_mode_after_the_download_predicts_only_the_run(capsys, site, host):
    sha256 = publish(site, host)
    url = site.base + "/palette-agent-install.sh"
    run(capsys, host, url=url, sha256=sha256, state="downloaded")
    result = run(capsys, host, check=True, url=url, sha256=sha256, user_data=host["user_data"])
    assert result["changed"] is True and result["downloaded"] is False and result["installed"] is True, result
    assert not os.path.exists(host["env_out"]) and len(site.requests) == 1
    open(host["creates"], "w").close()
    result = run(capsys, host, check=True, url=url, sha256=sha256, user_data=host["user_data"])
    assert result["changed"] is False and result["installed"] is False


def test_a_missing_user_data_fails_before_the_installer_runs(capsys, site, host):
    sha256 = publish(site, host)
    missing = str(host["dir"] / "absent")
    result = run(capsys, host, url=site.base + "/palette-agent-install.sh", sha256=sha256, user_data=missing)
    assert result["failed"] is True and "The user-data %s" % missing in result["msg"] and "Fix:" in result["msg"]
    assert not os.path.exists(host["env_out"])


@pytest.mark.parametrize("options, message", [
    ({"url": "http://mirror.lan/palette-agent-install.sh"}, "is plain http without sha256"),
    ({"url": "ftp://mirror.lan/i.sh", "sha256": "a" * 64}, "is not an http(s) URL"),
    ({"url": "https://example.com/i.sh", "sha256": "abc"}, "sha256 is not 64 hex digits"),
    ({"url": "https://example.com/i.sh", "proxy": "socks5://agent:%s@proxy.lan:1080" % PASSWORD},
     "proxy must start with http:// or https://"),
])
def test_options_that_cannot_work_are_refused_before_anything(capsys, site, host, options, message):
    result = run(capsys, host, state="downloaded", **options)
    assert result["failed"] is True and message in result["msg"], result
    assert PASSWORD not in json.dumps(result) and os.listdir(host["dir"]) == ["user-data"]


@pytest.mark.parametrize("exists, recorded, expected, actual, reason", [
    (False, "", "", None, "no installer at the destination yet"),
    (True, "https://a/i.sh", "", "f" * 64, "the installer on the host came from https://a/i.sh"),
    (True, "", "", "f" * 64, "the installer on the host came from an unrecorded URL"),
    (True, "https://b/i.sh", "e" * 64, "f" * 64, "the installer on the host does not match the sha256"),
    (True, "https://b/i.sh", "f" * 64, "f" * 64, None),
    (True, "https://b/i.sh", "", "f" * 64, None),
])
def test_download_reason(exists, recorded, expected, actual, reason):
    assert module_under_test.download_reason(exists, recorded, "https://b/i.sh", expected, actual) == reason
