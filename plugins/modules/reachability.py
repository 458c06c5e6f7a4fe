#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: reachability
short_description: Whether this host reaches the given addresses (ICMP ping or a TCP connect), bounded in time
version_added: 0.1.0
description:
  - From the host it runs on, probes each target of O(targets) and reports whether it answered, all targets in
    parallel, each bounded to O(count) attempts of O(timeout) seconds.
  - A target C(ADDRESS) is probed with the system's C(ping) (ICMP echo); a target C(ADDRESS:PORT) with a TCP connect.
    A refused connection counts as an answer, since the refusal (a TCP reset) comes from the target itself; a time-out
    or an ICMP unreachable does not.
  - Used by C(playbooks/validate.yml) for "every edge host reaches the VPC" and, delegated to a host inside the VPC,
    for "every hybrid node answers from the cluster side".
  - Reads only; never changes the host. It does not fail when a target does not answer (see RV(answered)); it fails
    only on invalid input.
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  targets:
    description:
      - The addresses to probe, C(ADDRESS) for ICMP or C(ADDRESS:PORT) for TCP (C([IPv6]:PORT) for IPv6 with a port).
    type: list
    elements: str
    required: true
  timeout:
    description:
      - Seconds to wait for each attempt (1 to 30).
    type: int
    default: 2
  count:
    description:
      - Attempts per target (ICMP echo requests, or TCP connects until one answers), 1 to 10.
    type: int
    default: 3
  source:
    description:
      - Source address of the probes (C(ping -I), or the TCP socket's bind address), for example a host's address
        inside the VPC.
    type: str
  require:
    description:
      - Whether RV(answered) needs every target to answer (V(all)) or one of them (V(any)).
    type: str
    default: all
    choices: [all, any]
attributes:
  check_mode:
    details: Only reads, so it probes in check mode too.
extends_documentation_fragment: [hybridnodes.eks.attributes, hybridnodes.eks.attributes.info_module]
notes:
  - ICMP needs the C(ping) command (iputils-ping, iputils); without it ICMP targets are reported as not answering,
    with the fix. Give C(ADDRESS:PORT) targets to avoid it.
"""

EXAMPLES = r"""
- name: Does this edge host reach the cloud worker and the cluster endpoint?
  hybridnodes.eks.reachability:
    targets: [10.100.10.25, "10.100.10.40:443"]
  register: vpc

- name: Ping a hybrid node from a host inside the VPC
  hybridnodes.eks.reachability:
    targets: ["{{ hostvars[item].ansible_host }}"]
    count: 3
  delegate_to: cloud-worker-1
  loop: "{{ groups['hybrid_nodes'] }}"
"""

RETURN = r"""
answered:
  description: Whether every target (O(require=all)) or at least one (O(require=any)) answered.
  returned: always
  type: bool
  sample: true
targets:
  description: One result per target, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    target:
      description: The target as given.
      type: str
      returned: always
      sample: 10.100.10.25
    address:
      description: The address probed.
      type: str
      returned: always
      sample: 10.100.10.25
    port:
      description: The TCP port, or null for ICMP.
      type: int
      returned: always
      sample: null
    method:
      description: C(icmp) or C(tcp).
      type: str
      returned: always
      sample: icmp
    answered:
      description: Whether the target answered.
      type: bool
      returned: always
      sample: true
    detail:
      description: What happened, one sentence.
      type: str
      returned: always
      sample: 3/3 echo replies, average 0.1 ms
"""

import errno
import re
import socket
import threading
import time

from ansible.module_utils.basic import AnsibleModule

MAX_TARGETS = 64
ANSWERED_ERRNOS = (errno.ECONNREFUSED,)


def parse_target(text):
    """(address, port or None) of 'ADDRESS', 'ADDRESS:PORT' or '[IPv6]:PORT'; raises ValueError."""
    text = str(text).strip()
    if not text:
        raise ValueError("an empty target")
    if text.startswith("["):
        address, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError("%r is not [IPv6]:PORT" % text)
        port = rest[1:] if rest else None
    elif text.count(":") == 1:
        address, port = text.split(":")
    else:
        address, port = text, None
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("%r: the port must be 1 to 65535" % text)
        port = int(port)
    # A leading "-" would read as an option of ping: an address or host name never starts with one.
    if not re.match(r"^[A-Za-z0-9.:_-]+$", address) or address.startswith("-"):
        raise ValueError("%r is not an address or host name" % text)
    return address, port


def parse_ping(output):
    """(sent, received, average ms or None) from ping's summary lines."""
    sent = received = 0
    found = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", output)
    if found:
        sent, received = int(found.group(1)), int(found.group(2))
    average = None
    rtt = re.search(r"= [\d.]+/([\d.]+)/", output)
    if rtt:
        average = float(rtt.group(1))
    return sent, received, average


def icmp(module, ping, address, count, timeout, source):
    if not ping:
        return False, "ping is not installed on this host; install iputils-ping (or iputils), or give ADDRESS:PORT to probe with TCP"
    argv = [ping, "-n", "-c", str(count), "-W", str(timeout)]
    if source:
        argv += ["-I", source]
    argv.append(address)
    rc, out, err = module.run_command(argv)
    sent, received, average = parse_ping(out)
    if rc == 0 and received:
        return True, "%d/%d echo replies%s" % (received, sent, (", average %.1f ms" % average) if average is not None else "")
    reason = (err or "").strip().splitlines()
    return False, "no echo reply (%d/%d)%s" % (received, sent or count, ("; " + reason[-1]) if reason else "")


def tcp(address, port, count, timeout, source):
    last = "no attempt"
    for _attempt in range(count):
        started = time.time()
        try:
            conn = socket.create_connection((address, port), timeout=timeout,
                                            source_address=(source, 0) if source else None)
            conn.close()
            return True, "TCP connect to port %d accepted in %.1f ms" % (port, (time.time() - started) * 1000)
        except socket.timeout:
            last = "TCP connect to port %d timed out after %d s" % (port, timeout)
        except (socket.error, OSError) as exc:
            if getattr(exc, "errno", None) in ANSWERED_ERRNOS:
                return True, "TCP connect to port %d refused: the host answered (nothing listens on that port)" % port
            last = "TCP connect to port %d failed: %s" % (port, exc)
            time.sleep(min(1.0, timeout))
    return False, last


def probe_all(module, parsed, count, timeout, source):
    ping = module.get_bin_path("ping") if any(port is None for _text, _address, port in parsed) else None
    results = [None] * len(parsed)

    def run(index, text, address, port):
        try:
            if port is None:
                answered, detail = icmp(module, ping, address, count, timeout, source)
            else:
                answered, detail = tcp(address, port, count, timeout, source)
        except Exception as exc:  # pylint: disable=broad-except  # one target's error must not lose the others
            answered, detail = False, "probe failed: %s" % exc
        results[index] = {"target": text, "address": address, "port": port, "method": "icmp" if port is None else "tcp",
                          "answered": answered, "detail": detail}

    threads = [threading.Thread(target=run, args=(index,) + item) for index, item in enumerate(parsed)]
    for thread in threads:
        thread.daemon = True
        thread.start()
    deadline = time.time() + count * (timeout + 1) + 5
    for thread in threads:
        thread.join(max(0.1, deadline - time.time()))
    for index, item in enumerate(parsed):
        if results[index] is None:
            results[index] = {"target": item[0], "address": item[1], "port": item[2],
                              "method": "icmp" if item[2] is None else "tcp", "answered": False,
                              "detail": "no result within %d s" % (count * (timeout + 1) + 5)}
    return results


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type="list", elements="str", required=True),
            timeout=dict(type="int", default=2),
            count=dict(type="int", default=3),
            source=dict(type="str"),
            require=dict(type="str", default="all", choices=["all", "any"]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    problems = []
    if not 1 <= params["timeout"] <= 30:
        problems.append("timeout must be 1 to 30 seconds (it is %d)." % params["timeout"])
    if not 1 <= params["count"] <= 10:
        problems.append("count must be 1 to 10 (it is %d)." % params["count"])
    if not params["targets"]:
        problems.append("targets is empty; give the addresses to probe, e.g. the cloud worker's IP.")
    if len(params["targets"]) > MAX_TARGETS:
        problems.append("at most %d targets per run (%d given)." % (MAX_TARGETS, len(params["targets"])))
    parsed = []
    for text in params["targets"]:
        try:
            parsed.append((text,) + parse_target(text))
        except ValueError as exc:
            problems.append("target %s; give ADDRESS or ADDRESS:PORT." % exc)
    if problems:
        module.fail_json(msg="Nothing was probed: %s" % " ".join(problems), problems=problems)
    results = probe_all(module, parsed, params["count"], params["timeout"], params["source"])
    check = all if params["require"] == "all" else any
    module.exit_json(changed=False, answered=check(item["answered"] for item in results), targets=results)


if __name__ == "__main__":
    main()
