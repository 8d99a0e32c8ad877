"""A private systemd-journald in a private mount namespace (TESTING.md recipe), and queries on it."""
import json
import os
import subprocess
import sys
import time

import kcoci

JOURNALD = "/lib/systemd/systemd-journald"
SOCKET = "/run/systemd/journal/socket"
CONF = "[Journal]\nStorage=volatile\nReadKMsg=no\nRateLimitBurst=0\nRateLimitIntervalSec=0\n" \
       "ForwardToSyslog=no\nForwardToConsole=no\nForwardToWall=no\n"


def reexec_in_mount_ns():
    """Re-run this script in a private mount namespace (once); returns only inside it."""
    if os.environ.get("KC_IN_PRIVATE_MNTNS") == "1":
        return
    kcoci.require_exe("/usr/bin/unshare", "unshare (util-linux)")
    env = dict(os.environ, KC_IN_PRIVATE_MNTNS="1")
    os.execve("/usr/bin/unshare", ["unshare", "--mount", "--propagation", "private",
                                   sys.executable, *sys.argv], env)


def _mount(*args):
    subprocess.run(["mount", *args], check=True, capture_output=True)


class Journald:
    """Start with start(); stop() kills it by pid. Must run inside reexec_in_mount_ns()."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.proc = None
        self.dir = "/run/log/journal"

    def start(self):
        if os.environ.get("KC_IN_PRIVATE_MNTNS") != "1":
            raise RuntimeError("Journald needs reexec_in_mount_ns() first")
        kcoci.require_exe(JOURNALD, "systemd-journald (Debian package systemd)")
        kcoci.require_exe("/usr/bin/journalctl", "journalctl")
        for d in ("/run/systemd", "/run/log", "/var/log/journal"):
            os.makedirs(d, exist_ok=True)
            _mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", d)
        conf = os.path.join(self.workdir, "journald.conf")
        with open(conf, "w") as f:
            f.write(CONF)
        _mount("--bind", conf, "/etc/systemd/journald.conf")
        # Its diagnostics go to a file: an unread pipe would fill up and stall journald.
        self.errlog = os.path.join(self.workdir, "journald.err")
        with open(self.errlog, "wb") as err:
            self.proc = subprocess.Popen([JOURNALD], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        if not kcoci.wait_for(lambda: os.path.exists(SOCKET) or self.proc.poll() is not None, 10):
            raise kcoci.Missing("systemd-journald did not create its socket in 10 s")
        if self.proc.poll() is not None:
            with open(self.errlog, "rb") as f:
                raise kcoci.Missing(f"systemd-journald exited: {f.read()!r}")
        return self

    def query(self, *matches):
        r = subprocess.run(["journalctl", "-D", self.dir, "-o", "json", "--no-pager", *matches],
                           capture_output=True, text=True)
        out = []
        for line in r.stdout.splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def wait_entries(self, count, *matches, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            ents = self.query(*matches)
            if len(ents) >= count or time.monotonic() > deadline:
                return ents
            time.sleep(0.1)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
