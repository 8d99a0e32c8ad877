#!/usr/bin/env python3
"""One slow peer: an attach client that connects and never reads must not stop logging.
(Debian's conmon 2.1.6 fails this: its accepted attach sockets are blocking, conmon.md 2.4.)"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("KC_SOURCE_DIR", os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "../../..")), "tests/lib"))
import kccrio  # noqa: E402
import kcoci  # noqa: E402
import kctest  # noqa: E402

LINES = 40000
PAD = "x" * 60


def run(tap):
    mon = kctest.monitor_from_env(tap)
    if not mon:
        return
    env = kctest.Env("kc-slow-")
    h = kccrio.Harness(mon, env.base, env.rootfs, env.runc)
    peers = []
    try:
        prog = (f"sleep 0.3; i=0; while [ $i -lt {LINES} ]; do echo \"line $i {PAD}\"; i=$((i+1)); done; "
                "echo done")
        c = h.create(kctest.new_cid(), ["sh", "-c", prog])
        tap.ok(c.pid, "created", f"{c.sync} {c.parent_err!r}")
        for _ in range(2):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(c.attach_path)
            peers.append(s)
        t0 = time.monotonic()
        c.start()
        samples = []
        for _ in range(5):
            time.sleep(0.2)
            samples.append((os.path.getsize(c.log), os.path.exists(c.exit_file)))
        stalled = [i for i in range(1, len(samples))
                   if samples[i][0] <= samples[i - 1][0] and not samples[i][1]]
        tap.ok(samples[-1][0] > 0 and not stalled,
               "the log keeps growing while the attach peers never read", f"(size, exited): {samples}")
        txt = c.wait_exit(timeout=60)
        secs = time.monotonic() - t0
        tap.eq(txt, "0", "exit file appears when the container exits")
        tap.diag(f"{LINES} lines in {secs:.2f} s with two stalled peers")
        log = c.log_text() or ""
        tap.ok(log.endswith(" stdout F done\n"), "the log holds the last line", log[-200:])
        lines, cur = [], ""
        try:
            for stream, tag, text in kctest.parse_log(log):
                cur += text
                if tag == "F":
                    lines.append(cur)
                    cur = ""
        except ValueError as e:
            tap.diag(str(e))
        want = [f"line {i} {PAD}" for i in range(LINES)] + ["done"]
        tap.eq(len(lines), len(want), "every line is in the log (P fragments joined)")
        tap.ok(lines == want, "the log holds the lines in order, none lost or duplicated")
        tap.ok(c.monitor_status is not None, "the monitor exited")
        # The stalled peer still gets an orderly end: everything queued for it, then EOF.
        s = peers[0]
        s.settimeout(5)
        got_eof = False
        try:
            for _ in range(100000):
                if not s.recv(8193):
                    got_eof = True
                    break
        except (socket.timeout, OSError):
            pass
        tap.ok(got_eof, "the slow peer sees EOF after the container exited")
    finally:
        for s in peers:
            s.close()
        h.cleanup()
        env.check_sanitizers(tap)
        env.close()


if __name__ == "__main__":
    kctest.main(run)
