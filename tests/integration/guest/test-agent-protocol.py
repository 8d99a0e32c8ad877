#!/usr/bin/env python3
"""kata-agent (host mode) against raw, partly hostile frames written by hand: TAP.

Checks the framing of docs/protocol.md byte for byte from the outside: hello first, replies by id,
error replies for bad requests, and that a corrupt stream ends the agent (exit 1) instead of being
guessed at."""
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guestlib  # noqa: E402

AGENT = os.environ.get("KC_AGENT")
n = 0
failed = 0


def tap(ok, desc):
    global n, failed
    n += 1
    failed += 0 if ok else 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n, desc))
    sys.stdout.flush()


def frame(kind, fid, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return struct.pack(">HBBII", 0x4B43, 1, kind, fid, len(payload)) + payload


class Peer:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def read_frame(self, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 12:
                magic, version, kind, fid, length = struct.unpack(">HBBII", self.buf[:12])
                if len(self.buf) >= 12 + length:
                    payload = self.buf[12:12 + length]
                    self.buf = self.buf[12 + length:]
                    return magic, version, kind, fid, payload
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return None
            d = self.sock.recv(65536)
            if not d:
                return None
            self.buf += d

    def read_reply(self):
        """The next reply, skipping events (exit events come before the reply that caused them)."""
        while True:
            f = self.read_frame()
            if not f or f[2] != 3:
                return f

    def request(self, rid, payload):
        self.sock.sendall(frame(1, rid, payload))
        f = self.read_reply()
        if not f or f[2] != 2 or f[3] != rid:
            return None
        return json.loads(f[4])


def start_agent(work):
    host, guest = socket.socketpair()
    proc = subprocess.Popen([AGENT, "--no-init", "--channel-fd", str(guest.fileno()), "--runtime", "/bin/false",
                             "--runtime-root", os.path.join(work, "rt"), "--shared-dir", os.path.join(work, "shared"),
                             "--state-dir", os.path.join(work, "state")],
                            pass_fds=[guest.fileno()], stderr=subprocess.PIPE)
    guest.close()
    return proc, Peer(host)


# A stand-in OCI runtime: "create" takes a second, then leaves a live process behind as the container.
FAKE_RUNTIME = """#!/bin/sh
verb=; pidfile=
while [ $# -gt 0 ]; do
        case "$1" in
        --pid-file) pidfile=$2; shift 2 ;;
        --root|--log|--bundle|--console-socket|--process) shift 2 ;;
        create|start|delete|kill|exec) [ -n "$verb" ] || verb=$1; shift ;;
        *) shift ;;
        esac
done
if [ "$verb" = create ]; then
        sleep 1
        sleep 60 </dev/null >/dev/null 2>&1 &
        echo $! >"$pidfile"
fi
exit 0
"""


def slow_test(work, fake):
    host, guest = socket.socketpair()
    proc = subprocess.Popen([AGENT, "--no-init", "--channel-fd", str(guest.fileno()), "--runtime", fake,
                             "--runtime-root", os.path.join(work, "rt2"), "--shared-dir", os.path.join(work, "shared"),
                             "--state-dir", os.path.join(work, "state2")],
                            pass_fds=[guest.fileno()], stderr=subprocess.DEVNULL)
    guest.close()
    peer = Peer(host)
    peer.read_frame()
    spec = '"spec":{"process":{"args":["sh"]}}'
    t0 = time.monotonic()
    host.sendall(frame(1, 20, '{"type":"create-container","container-id":"c",%s}' % spec) +
                 frame(1, 21, '{"type":"ping"}') +
                 frame(1, 22, '{"type":"start-container","container-id":"c"}') +
                 frame(1, 23, '{"type":"state","container-id":"c"}'))
    got = [peer.read_reply() for _ in range(4)]
    order = [f[3] if f else None for f in got]
    early = time.monotonic() - t0
    replies = {f[3]: json.loads(f[4]) for f in got if f}
    tap(order[:3] == [21, 22, 23] and order[3] == 20,
        "requests behind a slow create are answered first (order %r)" % order)
    tap(replies.get(22, {}).get("errno") == 16 and replies.get(23, {}).get("status") == "created" and
        replies.get(20, {}).get("pid", 0) > 0,
        "start while creating: EBUSY; state: created; then the create reply with a pid: %r" % replies)
    r = peer.request(24, '{"type":"remove-container","container-id":"c"}')
    tap(r == {"ok": True}, "the created container is removed: %r" % r)
    # Removing a container whose create is still running cancels it.
    os.makedirs(os.path.join(work, "shared", "d", "rootfs"))
    host.sendall(frame(1, 25, '{"type":"create-container","container-id":"d",%s}' % spec) +
                 frame(1, 26, '{"type":"remove-container","container-id":"d","force":true}'))
    got = [peer.read_reply() for _ in range(2)]
    replies = {f[3]: json.loads(f[4]) for f in got if f}
    tap(replies.get(25, {}).get("errno") == 125 and replies.get(26) == {"ok": True},
        "remove during create: the create is cancelled (ECANCELED), the remove succeeds: %r" % replies)
    host.close()
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    tap(rc == 0 and early < 30, "the agent exits 0 at EOF (rc=%r)" % rc)


def main():
    if not AGENT or not os.access(AGENT, os.X_OK):
        guestlib.fail_all("KC_AGENT (%r) is not an executable" % AGENT)
    guestlib.become_subreaper()
    work = tempfile.mkdtemp(prefix="kc-guest-proto-")
    try:
        proc, peer = start_agent(work)
        f = peer.read_frame()
        hello = json.loads(f[4]) if f else {}
        tap(f is not None and f[:4] == (0x4B43, 1, 3, 0) and hello.get("type") == "hello" and
            hello.get("protocol") == 1 and hello.get("kernel") == os.uname().release,
            "first frame: hello event, magic KC, version 1, id 0, protocol 1, kernel %r" % hello.get("kernel"))

        r = peer.request(7, '{"type":"ping"}')
        tap(r == {"ok": True}, "ping answered with the same id 7: %r" % r)
        r = peer.request(8, '{"type":"ping"')
        tap(r and r.get("ok") is False and r.get("errno") == 74, "truncated JSON request: EBADMSG reply %r" % r)
        r = peer.request(9, '{"a":' + "[" * 40 + "]" * 40 + "}")
        tap(r and r.get("errno") == 7, "request nested 40 deep: E2BIG reply %r" % r)
        r = peer.request(10, '{"type":"no-such"}')
        tap(r and r.get("errno") == 38 and "no-such" in r.get("message", ""), "unknown type: ENOSYS %r" % r)
        r = peer.request(11, '{"type":"signal","container-id":"c","signal":"9"}')
        tap(r and r.get("errno") == 2, "signal for an unknown container: ENOENT %r" % r)
        r = peer.request(12, '{"type":"create-container","container-id":"c","spec":{}}')
        tap(r and r.get("errno") == 2, "create without a rootfs in the shared directory: ENOENT %r" % r)
        os.makedirs(os.path.join(work, "shared", "c", "rootfs"))
        r = peer.request(13, '{"type":"create-container","container-id":"c","spec":{"process":{"args":["sh"]}},'
                             '"stdout":5,"stderr":5}')
        tap(r and r.get("errno") == 22, "the same stream id for stdout and stderr: EINVAL %r" % r)
        r = peer.request(14, '{"type":"create-container","container-id":"c","spec":{"process":{"args":["sh"]}}}')
        tap(r and r.get("ok") is False and "false" in r.get("message", ""),
            "a failing runtime gives an error reply with its name: %r" % r)
        r = peer.request(15, '{"type":"resize","container-id":"c","rows":0,"cols":80}')
        tap(r and r.get("errno") == 2, "the failed container is not kept: %r" % r)

        # Data and window frames for streams nobody opened are dropped; the channel stays usable.
        peer.sock.sendall(frame(4, 99, b"stray") + frame(5, 98, struct.pack(">I", 10)))
        r = peer.request(16, '{"type":"ping"}')
        tap(r == {"ok": True}, "stray data/window frames are ignored")
        # A request split into single bytes still arrives whole.
        for b in frame(1, 17, '{"type":"ping"}'):
            peer.sock.send(bytes([b]))
        f = peer.read_frame()
        tap(f is not None and f[2] == 2 and f[3] == 17, "a request written byte by byte is answered")

        # The runtime works in the background: a slow create never holds up other requests.
        fake = os.path.join(work, "fake-runtime")
        with open(fake, "w") as f:
            f.write(FAKE_RUNTIME)
        os.chmod(fake, 0o755)
        slow_test(work, fake)

        # An event frame from the host is a protocol error: the host-mode agent exits 1.
        peer.sock.sendall(frame(3, 0, '{"type":"hello"}'))
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        err = proc.stderr.read().decode(errors="replace")
        tap(rc == 1 and "protocol error" in err, "an event from the host ends the agent with exit 1 (rc=%r)" % rc)

        # Oversized header: refused before any payload is sent.
        proc, peer = start_agent(work)
        peer.read_frame()
        peer.sock.sendall(struct.pack(">HBBII", 0x4B43, 1, 1, 1, 64 * 1024 * 1024))
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        err = proc.stderr.read().decode(errors="replace")
        tap(rc == 1 and "Message too long" in err, "a 64 MiB request header ends the agent at once (rc=%r)" % rc)

        # EOF from the host: the agent cleans up and exits 0.
        proc, peer = start_agent(work)
        peer.read_frame()
        peer.sock.close()
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        proc.stderr.close()
        tap(rc == 0, "EOF on the channel: the agent exits 0 (rc=%r)" % rc)
    finally:
        guestlib.reap_all()
        shutil.rmtree(work, ignore_errors=True)
    print("1..%d" % n)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
