"""STAND-IN for `sysctl --system` on the lab's nspawn hosts, for the real nodeadm init alone.

Why it exists: nodeadm init's sysctl aspect writes /etc/sysctl.d/99-nodeadm.conf and runs `sysctl --system`
(aws/eks-hybrid v1.0.19 internal/system/sysctl.go, through PATH). systemd-nspawn mounts /proc/sys read-only but for
the network namespace's net.*, so procps refuses every other key with `permission denied` and exits 1, and init
stops there. On a real host the same command succeeds.

The boundary, and nothing more: installed as /usr/local/sbin/sysctl (ahead of /usr/sbin on root's PATH), it runs the
real /usr/sbin/sysctl with the same arguments, and passes its output, its errors and its exit code through unchanged,
with one exception: when the arguments are `--system` and every error the real sysctl printed is a `permission
denied` on a key (a key the container cannot write) whose every wanted value (each line that sets it: procps writes
them in turn) has the form of its current one (integers
where the kernel holds integers: the kernel would refuse anything else with EINVAL), it records those keys in RECORD
(key and the value the files ask for) and exits 0, as the real program would on a host whose /proc/sys is writable.
Every other failure (a bad value, a missing file) is the real program's, word for word. tests/lab/tests/lab/test_sysctl_standin.py runs both
on the same files and holds the stand-in to that.
"""

import re
import subprocess
import sys
from pathlib import Path

REAL = "/usr/sbin/sysctl"
RECORD = Path("/var/lib/hnlab-sysctl-standin/denied")
DENIED = re.compile(r'^sysctl: permission denied on key "([^"]+)"(, ignoring)?$')
# procps' --system order (procps 4 sysctl.c): these directories, a file name seen first wins, files sorted by name;
# then /etc/sysctl.conf.
DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")


def wanted_values():
    files = {}
    for directory in DIRS:
        for path in sorted(Path(directory).glob("*.conf")) if Path(directory).is_dir() else ():
            files.setdefault(path.name, path)
    values = {}
    for path in [files[name] for name in sorted(files)] + [Path("/etc/sysctl.conf")]:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line[0] in "#;" or "=" not in line:
                continue
            key, value = (part.strip() for part in line.split("=", 1))
            # Every line is written in turn, so every value a key is given must be one the kernel takes.
            values.setdefault(key.lstrip("-").replace("/", "."), []).append(" ".join(value.split()))
    return values


def _same_form(key, value):
    try:
        current = Path("/proc/sys", *key.split(".")).read_text().split()
    except OSError:
        return False
    wanted = value.split()
    integer = re.compile(r"^-?\d+$")
    return len(wanted) == len(current) and all(bool(integer.match(w)) == bool(integer.match(c))
                                               for w, c in zip(wanted, current))


def main(argv):
    result = subprocess.run([REAL] + argv, capture_output=True, text=True, check=False)
    sys.stdout.write(result.stdout)
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    denied = [DENIED.match(line) for line in errors]
    if result.returncode == 0 or argv != ["--system"] or not errors or not all(denied):
        sys.stderr.write(result.stderr)
        return result.returncode
    values = wanted_values()
    if not all(values.get(match.group(1)) and all(_same_form(match.group(1), value) for value in values[match.group(1)])
               for match in denied):
        sys.stderr.write(result.stderr)
        return result.returncode
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    with RECORD.open("a") as record:
        for match in denied:
            record.write("%s = %s\n" % (match.group(1), values[match.group(1)][-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
