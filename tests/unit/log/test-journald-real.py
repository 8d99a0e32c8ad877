#!/usr/bin/env python3
"""TAP: the journald driver against a real, private systemd-journald (own mount namespace)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

JOURNALD = "/lib/systemd/systemd-journald"
SOCKET = "/run/systemd/journal/socket"
CID = "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa00"
CONF = "[Journal]\nStorage=volatile\nReadKMsg=no\nRateLimitBurst=0\nForwardToSyslog=no\n" \
       "ForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\n"

n = 0
failed = 0


def ok(cond, desc, diag=None):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok") + f" {n} - {desc}", flush=True)
    if not cond:
        failed += 1
        if diag is not None:
            for line in str(diag).splitlines():
                print("# " + line, flush=True)
    return cond


def bail(msg):
    print(f"Bail out! {msg}", flush=True)
    sys.exit(1)


def in_namespace(writer):
    tmp = tempfile.mkdtemp(prefix="kc-journald-")
    journald = None
    try:
        # A tmpfs over all of /run (not only /run/systemd and /run/log) so that journald never
        # creates directories on the host, whether or not they exist there.
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/run"], check=True)
        for d in ("/run/systemd", "/run/log"):
            os.mkdir(d, 0o755)
        if os.path.isdir("/var/log/journal"):
            subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/var/log/journal"], check=True)
        conf = os.path.join(tmp, "journald.conf")
        with open(conf, "w") as f:
            f.write(CONF)
        subprocess.run(["mount", "--bind", conf, "/etc/systemd/journald.conf"], check=True)
        journald = subprocess.Popen([JOURNALD], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not os.path.exists(SOCKET):
            if journald.poll() is not None or time.monotonic() > deadline:
                bail("systemd-journald did not create %s: %s" % (SOCKET, journald.stderr.read()
                                                                 if journald.poll() is not None else "timeout"))
            time.sleep(0.02)

        k8s = os.path.join(tmp, "ctr.log")
        r = subprocess.run([writer, CID, k8s], capture_output=True, text=True, timeout=30)
        ok(r.returncode == 0, "writer ran", r.stderr)

        entries = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            subprocess.run(["journalctl", "--sync"], capture_output=True, timeout=10)
            q = subprocess.run(["journalctl", "-D", "/run/log/journal", "-o", "json", "--all", "--no-pager",
                                f"CONTAINER_ID_FULL={CID}"], capture_output=True, text=True, timeout=10)
            entries = [json.loads(line) for line in q.stdout.splitlines() if line.strip()]
            if len(entries) >= 7:
                break
            time.sleep(0.1)
        check(entries, k8s)
    finally:
        if journald is not None:
            journald.kill()
            journald.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def message(e):
    m = e.get("MESSAGE")
    if isinstance(m, list):  # journalctl prints binary-unsafe messages as byte arrays
        m = bytes(m).decode("utf-8", "replace")
    return m


def check(entries, k8s):
    msgs = [message(e) for e in entries]
    if not ok(len(entries) == 7, "7 records for the container", "got %d: %r" % (len(entries), msgs)):
        return
    e = entries
    ok(msgs[0] == "hello from kata\n", "MESSAGE keeps the line's newline", repr(msgs[0]))
    ok(msgs[1] == "second line\n", "a line split over two reads is one record", repr(msgs[1]))
    common = {"CONTAINER_ID": CID[:12], "CONTAINER_NAME": "web-1", "SYSLOG_IDENTIFIER": "web-1",
              "KC_TEST_LABEL": "blue"}
    for k, v in common.items():
        ok(all(x.get(k) == v for x in e), f"every record has {k}={v}", [x.get(k) for x in e])
    ok(e[0].get("PRIORITY") == "6" and "CONTAINER_PARTIAL_MESSAGE" not in e[0], "stdout: PRIORITY=6, complete")
    ok(msgs[2] == "warned\n" and e[2].get("PRIORITY") == "4", "<4> prefix sets PRIORITY=4 and is stripped",
       (msgs[2], e[2].get("PRIORITY")))
    ok(msgs[3] == "plain error\n" and e[3].get("PRIORITY") == "3", "stderr: PRIORITY=3",
       (msgs[3], e[3].get("PRIORITY")))
    ok(e[4].get("CONTAINER_PARTIAL_MESSAGE") == "true" and msgs[4] == "#" * 8192,
       "an 8192-byte fragment is a partial record", (len(msgs[4] or ""), e[4].get("CONTAINER_PARTIAL_MESSAGE")))
    ok(msgs[5] == "#" * (10000 - 8192) + "\n" and "CONTAINER_PARTIAL_MESSAGE" not in e[5],
       "the rest of the long line completes it", len(msgs[5] or ""))
    ok(msgs[6] == "tail" and e[6].get("CONTAINER_PARTIAL_MESSAGE") == "true",
       "the fragment left at exit is flushed as partial", repr(msgs[6]))
    with open(k8s) as f:
        lines = f.read().splitlines()
    ok(len(lines) == 9 and lines[0].endswith(" stdout F hello from kata") and lines[-1].endswith(" stdout P tail"),
       "the k8s-file driver logged the same output alongside", lines[:3] + lines[-1:])


def main():
    writer = os.environ.get("KC_JOURNALD_WRITER")
    if not writer or not os.access(writer, os.X_OK):
        bail("KC_JOURNALD_WRITER is not set to the test helper")
    for prog in (JOURNALD, shutil.which("journalctl"), shutil.which("unshare")):
        if not prog or not os.access(prog, os.X_OK):
            bail(f"missing prerequisite: {prog or 'journalctl/unshare'} (install systemd and util-linux)")
    if not os.path.isfile("/etc/systemd/journald.conf"):
        bail("missing /etc/systemd/journald.conf (install systemd) to bind the test configuration over")
    if os.geteuid() != 0:
        bail("needs root for a private mount namespace")
    if os.environ.get("KC_JOURNALD_NS") != "1":
        env = dict(os.environ, KC_JOURNALD_NS="1")
        r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, __file__], env=env)
        sys.exit(r.returncode)
    in_namespace(writer)
    print(f"1..{n}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
