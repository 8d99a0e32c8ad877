#!/usr/bin/env python3
"""The monitor's own edge cases, driven like CRI-O drives it, against a fake OCI runtime.

TAP output. Needs KC_CONMON (the kata-conmon binary) and KC_FAKE_RUNTIME (fake-runtime.py).
"""
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

MON = os.environ.get("KC_CONMON", "")
FAKE = os.environ.get("KC_FAKE_RUNTIME", "")
n = 0
failed = 0


def ok(cond, name, diag=None):
    global n, failed
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
    if not cond:
        failed += 1
        if diag is not None:
            for line in str(diag).splitlines() or [""]:
                print("#   " + line)
    sys.stdout.flush()


class Run:
    """One monitor invocation with socketpairs on fds 3 (sync) and 4 (start), like CRI-O."""

    def __init__(self, mode="ok", script="sleep", extra=(), exec_mode=False, sync=False, env=None,
                 start=True, attach_pipe=False):
        self.dir = tempfile.mkdtemp(prefix="kc-lc-", dir="/tmp")
        self.bundle = os.path.join(self.dir, "bundle")
        os.mkdir(self.bundle)
        for d in ("exits", "persist", "sock"):
            os.mkdir(os.path.join(self.dir, d))
        self.cid = "c%015d" % (os.getpid() * 1000 + n)
        self.record = os.path.join(self.dir, "record.json")
        self.log = os.path.join(self.dir, "ctr.log")
        self.exit_file = os.path.join(self.dir, "exits", self.cid)
        self.persist_exit = os.path.join(self.dir, "persist", "exit")
        self.sync_p, sync_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.start_p, start_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fds = [sync_c.fileno(), start_c.fileno()]
        if attach_pipe:
            self.attach_p, attach_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            fds.append(attach_c.fileno())
        argv = [MON, "-c", self.cid, "-r", FAKE, "-p", os.path.join(self.dir, "pidfile"),
                "-l", self.log, "--exit-dir", os.path.join(self.dir, "exits"),
                "--persist-dir", os.path.join(self.dir, "persist"),
                "--socket-dir-path", os.path.join(self.dir, "sock"), "--log-level", "debug"]
        if exec_mode:
            spec = os.path.join(self.dir, "process.json")
            with open(spec, "w") as f:
                f.write("{}")
            argv += ["-e", "--exec-process-spec", spec]
        else:
            argv += ["-b", self.bundle, "-u", self.cid, "-P", os.path.join(self.dir, "conmon.pid")]
        if sync:
            argv.append("--sync")
        argv += list(extra)
        e = dict(os.environ, FAKE_RT_MODE=mode, FAKE_RT_SCRIPT=script, FAKE_RT_RECORD=self.record,
                 _OCI_SYNCPIPE="3", _OCI_STARTPIPE="4")
        if attach_pipe:
            e["_OCI_ATTACHPIPE"] = "5"
        e.update(env or {})
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in fds]

        def pre():
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i)

        self.proc = subprocess.Popen(argv, cwd=self.bundle, env=e, preexec_fn=pre, close_fds=False,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        for fd in high:
            os.close(fd)
        sync_c.close()
        start_c.close()
        if attach_pipe:
            attach_c.close()
        self.buf = b""
        if start:
            self.start_p.send(b"0")

    def msg(self, timeout=10):
        self.sync_p.settimeout(timeout)
        try:
            while b"\n" not in self.buf:
                d = self.sync_p.recv(65536)
                if not d:
                    return None
                self.buf += d
        except socket.timeout:
            return "TIMEOUT"
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def wait(self, timeout=15):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            return None
        self.stderr = err.decode(errors="replace")
        return self.proc.returncode

    def wait_file(self, path, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if os.path.exists(path):
                with open(path) as f:
                    return f.read()
            time.sleep(0.02)
        return None

    def monitor_pid(self):
        p = os.path.join(self.dir, "conmon.pid")
        return int(self.wait_file(p) or 0)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        mp = os.path.join(self.dir, "conmon.pid")
        if os.path.exists(mp):
            try:
                pid = int(open(mp).read())
                os.kill(pid, signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def read_log(path):
    try:
        with open(path) as f:
            return [line.split(" ", 1)[1] for line in f.read().splitlines()]
    except FileNotFoundError:
        return None


def t_create_and_kill():
    r = Run()
    try:
        m = r.msg()
        ok(r.wait() == 0, "create: first process exits 0")
        ok(m is not None and m.startswith('{"pid": ') and m.endswith("}"), "create: {\"pid\": N}", m)
        pid = json.loads(m)["pid"] if m and m.startswith("{") else 0
        ok(pid > 0 and os.path.exists("/proc/%d" % pid), "create: the container pid is alive")
        rec = json.load(open(r.record))
        ok(rec["argv"][:1] == ["create"] and rec["argv"][-1] == r.cid and "--bundle" in rec["argv"],
           "create: runtime argv is create ... <cid>", rec["argv"])
        mp = r.monitor_pid()
        ok(mp > 0 and os.path.exists("/proc/%d" % mp), "create: -P names the live monitor")
        os.kill(pid, signal.SIGKILL)
        ok(r.wait_file(r.exit_file) == "137", "SIGKILL: exit file 137")
        ok(r.wait_file(r.persist_exit) == "137", "SIGKILL: persist exit 137")
        ok(not os.path.lexists(os.path.join(r.dir, "sock", r.cid)), "exit: attach symlink removed")
    finally:
        r.close()


def t_signal_forwarding():
    r = Run()
    try:
        r.msg()
        r.wait()
        mp = r.monitor_pid()
        os.kill(mp, signal.SIGTERM)
        ok(r.wait_file(r.exit_file) == "9", "SIGTERM to the monitor reaches the container (exit 9)")
    finally:
        r.close()


def t_runtime_failure():
    r = Run(mode="fail", sync=True)
    try:
        m = r.msg()
        rc = r.wait()
        ok(rc == 1, "create failure: monitor exits 1", rc)
        try:
            j = json.loads(m)
        except (TypeError, ValueError):
            j = {}
        ok(j.get("pid") == -1, "create failure: pid -1", m)
        ok(j.get("message") == "E" * 8191, "create failure: message is the first 8191 bytes of stderr",
           len(j.get("message", "")))
        ok(not os.path.exists(r.exit_file) and not os.path.exists(r.persist_exit),
           "create failure: no exit files")
    finally:
        r.close()


def t_bad_pidfile():
    for mode in ("garbage-pidfile", "no-pidfile"):
        r = Run(mode=mode, sync=True)
        try:
            m = r.msg()
            rc = r.wait()
            j = json.loads(m) if m and m.startswith("{") else {}
            ok(j.get("pid") == -1 and j.get("message"), "%s: pid -1 with a message" % mode, m)
            ok(rc == 1, "%s: monitor exits 1" % mode, rc)
        finally:
            r.close()


def t_tty_not_set_up():
    r = Run(mode="tty-missing", extra=["-t"], sync=True)
    try:
        m = r.msg()
        ok(m == '{"pid": -1, "message": "Runtime did not set up terminal"}', "-t without a pty: message", m)
        ok(r.wait() == 1, "-t without a pty: exits 1")
    finally:
        r.close()


def t_tty_received():
    r = Run(extra=["-t"], script="sleep")
    try:
        m = r.msg()
        ok(m is not None and m.startswith('{"pid": '), "-t: the pty arrives over the console socket", m)
        rec = json.load(open(r.record))
        cs = rec["argv"][rec["argv"].index("--console-socket") + 1] if "--console-socket" in rec["argv"] else ""
        ok(os.path.basename(cs).startswith("conmon-term."), "-t: --console-socket $TMPDIR/conmon-term.XXXXXX", cs)
        ok(not os.path.exists(cs), "-t: console socket unlinked after the accept")
        pid = json.loads(m)["pid"]
        os.kill(pid, signal.SIGKILL)
        ok(r.wait_file(r.exit_file) == "137", "-t: exit file")
    finally:
        r.close()


def t_foreign_pid():
    # A container pid that is not our child: watched by polling, status unknown (0).
    sleeper = subprocess.Popen(["sleep", "30"])
    r = Run(mode="foreign-pid", env={"FAKE_RT_PID": str(sleeper.pid)})
    try:
        m = r.msg()
        ok(m == '{"pid": %d}' % sleeper.pid, "foreign pid: reported", m)
        sleeper.kill()
        sleeper.wait()
        ok(r.wait_file(r.exit_file, 10) == "0", "foreign pid: its disappearance is noticed, status 0")
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
        r.close()


def t_listen_pid():
    r = Run(env={"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "0"})
    try:
        r.msg()
        rec = json.load(open(r.record))
        ok(rec["listen_pid"] == str(rec["pid"]), "LISTEN_PID of the caller becomes the runtime's pid", rec)
    finally:
        r.close()
    r = Run(env={"LISTEN_PID": "1", "LISTEN_FDS": "0"})
    try:
        r.msg()
        rec = json.load(open(r.record))
        ok(rec["listen_pid"] == "1", "LISTEN_PID of someone else is left alone", rec)
    finally:
        r.close()


def t_exec_legacy():
    r = Run(exec_mode=True, script="output-exit7", sync=True)
    try:
        m = r.msg()
        rc = r.wait()
        ok(m == '{"exit_code": 7}', "legacy exec: only {\"exit_code\": 7}", m)
        ok(rc == 7, "legacy exec: monitor exit code is the status", rc)
        ok(read_log(r.log) == ["stdout F to-stdout", "stderr F to-stderr"] or
           read_log(r.log) == ["stderr F to-stderr", "stdout F to-stdout"], "legacy exec: output logged",
           read_log(r.log))
        rec = json.load(open(r.record))
        ok(rec["argv"][0] == "exec" and "--detach" in rec["argv"] and "--tty" not in rec["argv"],
           "legacy exec: runtime exec ... --detach, no --tty", rec["argv"])
    finally:
        r.close()


def t_exec_timeout():
    r = Run(exec_mode=True, script="sleep", sync=True, extra=["-T", "1", "--api-version", "-u", "sess"])
    try:
        m1 = r.msg()
        t0 = time.monotonic()
        m2 = r.msg()
        rc = r.wait()
        ok(m1 is not None and m1.startswith('{"data": '), "exec --api-version: pid first", m1)
        ok(m2 == '{"data": -1, "message": "command timed out"}', "exec -T: timed-out message", m2)
        ok(rc == 255, "exec -T: monitor exits 255", rc)
        elapsed = time.monotonic() - t0
        ok(0.9 <= elapsed < 3, "exec -T 1: fires after one second, not before", elapsed)
        pid = json.loads(m1)["data"] if m1 and m1.startswith("{") else 0
        time.sleep(0.2)
        alive = False
        try:
            with open("/proc/%d/stat" % pid) as f:
                alive = f.read().split(") ")[1][0] not in "ZX"
        except (FileNotFoundError, IndexError):
            pass
        ok(pid > 0 and not alive, "exec -T: the process was killed")
    finally:
        r.close()


def t_exec_attach():
    # exec-attach needs a bundle of its own (podman: the exec session's directory)
    d = tempfile.mkdtemp(prefix="kc-lcx-", dir="/tmp")
    try:
        r = Run(exec_mode=True, script="output-exit7", attach_pipe=True, start=False,
                extra=["--api-version", "-u", "sess", "-b", d, "--exec-attach", "--full-attach"])
        # a whole line, like conmon's own tests write: all of it is the first start message
        r.start_p.send(b"start conmon\n")
        r.attach_p.settimeout(10)
        a = r.attach_p.recv(100)
        ok(a == b'{"data": 0}\n', "exec-attach: {\"data\": 0} on the attach pipe", a)
        ok(os.path.exists(os.path.join(d, "attach")), "exec-attach: attach socket ready before that")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(os.path.join(d, "attach"))
        time.sleep(0.3)
        ok(not os.path.exists(r.record), "exec-attach: the runtime waits for the second start byte")
        r.start_p.send(b"start attach\n")
        m1 = r.msg()
        m2 = r.msg()
        ok(m1 is not None and m1.startswith('{"data": ') and m2 == '{"data": 7}', "exec-attach: pid, then status",
           (m1, m2))
        s.settimeout(5)
        got = b""
        try:
            while True:
                p = s.recv(8193)
                if not p:
                    break
                got += p
        except socket.timeout:
            pass
        ok(b"\x02to-stdout\n" in got and b"\x03to-stderr\n" in got, "exec-attach: output on the attach socket", got)
        s.close()
        r.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def t_ctl_garbage_and_reopen():
    r = Run(script="sleep")
    try:
        m = r.msg()
        r.wait()
        ctl = os.path.join(r.bundle, "ctl")
        with open(ctl, "w") as f:
            f.write("garbage\n1 2000 3\n" + "x" * 500 + "\n9 1 1\n1.5 2 3\n")
        time.sleep(0.2)
        mp = r.monitor_pid()
        ok(os.path.exists("/proc/%d" % mp), "ctl garbage: monitor still running")
        os.rename(r.log, r.log + ".1")
        with open(ctl, "w") as f:
            f.write("2 0 0\n")
        ok(r.wait_file(r.log, 5) is not None, "ctl 2 0 0 after garbage: log file re-created")
        pid = json.loads(m)["pid"]
        os.kill(pid, signal.SIGKILL)
        ok(r.wait_file(r.exit_file) == "137", "ctl: container exit still recorded")
    finally:
        r.close()


def t_exit_command():
    mark = tempfile.mktemp(prefix="kc-lc-exitcmd-", dir="/tmp")
    r = Run(script="exit", sync=True, extra=["--exit-command", "/bin/sh", "--exit-command-arg", "-c",
                                              "--exit-command-arg", "echo $0 > " + mark + "; exit 5",
                                              "--exit-delay", "1"])
    try:
        r.msg()
        t0 = time.monotonic()
        rc = r.wait()
        ok(os.path.exists(mark), "exit command ran after the container exited")
        ok(time.monotonic() - t0 >= 0.9, "--exit-delay 1: the monitor waited for it")
        ok(rc == 5, "a failing exit command's status becomes the monitor's exit code", rc)
    finally:
        if os.path.exists(mark):
            os.unlink(mark)
        r.close()


def main():
    if not MON or not os.access(MON, os.X_OK) or not FAKE:
        print("1..1")
        print("not ok 1 - prerequisites: KC_CONMON=%r KC_FAKE_RUNTIME=%r" % (MON, FAKE))
        return 1
    for t in (t_create_and_kill, t_signal_forwarding, t_runtime_failure, t_bad_pidfile, t_tty_not_set_up,
              t_tty_received, t_foreign_pid, t_listen_pid, t_exec_legacy, t_exec_timeout, t_exec_attach,
              t_ctl_garbage_and_reopen, t_exit_command):
        t0 = time.monotonic()
        try:
            t()
        except Exception as e:  # a crash in a case is a failure, not an abort
            ok(False, "%s raised" % t.__name__, repr(e))
        print("# %s: %.2f s" % (t.__name__, time.monotonic() - t0))
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
