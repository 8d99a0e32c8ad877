#!/usr/bin/env python3
"""A fake OCI runtime for the monitor's lifecycle tests; FAKE_RT_MODE picks the behaviour.

It records its argv and a few facts in $FAKE_RT_RECORD (JSON), then, like runc create / exec
--detach, leaves a detached "container" process behind whose pid goes to --pid-file.
"""
import json
import os
import signal
import socket
import sys
import time


def opt(args, name):
    return args[args.index(name) + 1] if name in args else None


def main():
    args = sys.argv[1:]
    mode = os.environ.get("FAKE_RT_MODE", "ok")
    rec = os.environ.get("FAKE_RT_RECORD")
    if rec:
        with open(rec, "w") as f:
            json.dump({"argv": args, "listen_pid": os.environ.get("LISTEN_PID"), "pid": os.getpid(),
                       "fds": sorted(int(x) for x in os.listdir("/proc/self/fd"))}, f)
    pidfile = opt(args, "--pid-file")
    console = opt(args, "--console-socket")

    if mode == "fail":
        sys.stderr.write("E" * 10000)
        sys.stderr.flush()
        sys.exit(3)
    if mode == "garbage-pidfile":
        with open(pidfile, "w") as f:
            f.write("not-a-pid")
        sys.exit(0)
    if mode == "no-pidfile":
        sys.exit(0)
    if mode == "foreign-pid":
        with open(pidfile, "w") as f:
            f.write(os.environ["FAKE_RT_PID"])
        sys.exit(0)
    if mode == "tty-missing":
        with open(pidfile, "w") as f:
            f.write(str(os.getpid()))
        sys.exit(0)

    master = slave = None
    if console:
        master, slave = os.openpty()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(console)
        socket.send_fds(s, [b"pty"], [master])
        s.close()
        os.close(master)

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.setsid()
        if slave is not None:
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
        for fd in range(3, 256):
            if fd != w:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if pid == 0 and os.fork() != 0:
            os._exit(0)  # double fork: the container process is nobody's child but the subreaper's
        os.write(w, str(os.getpid()).encode())
        os.close(w)
        script = os.environ.get("FAKE_RT_SCRIPT", "sleep")
        if script == "sleep":
            signal.signal(signal.SIGTERM, lambda *a: os._exit(9))
            time.sleep(60)
            os._exit(0)
        if script == "output-exit7":
            os.write(1, b"to-stdout\n")
            os.write(2, b"to-stderr\n")
            os._exit(7)
        os._exit(0)
    os.close(w)
    cpid = b""
    while True:
        d = os.read(r, 32)
        if not d:
            break
        cpid += d
    os.waitpid(pid, 0)
    with open(pidfile, "w") as f:
        f.write(cpid.decode())
    sys.exit(0)


if __name__ == "__main__":
    main()
