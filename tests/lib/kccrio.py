"""A CRI-O-like client of the monitor: the argv, environment and fds CRI-O uses (kata-crio.md B.2, B.4)."""
import json
import os
import select
import socket
import subprocess
import time

import kcoci

CRIO_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def crio_env(extra=None, pipes=True):
    env = {"PATH": CRIO_PATH, "CRI_O_EXTERNAL": "1", "XDG_RUNTIME_DIR": ""}
    if pipes:
        env.update({"_OCI_SYNCPIPE": "3", "_OCI_STARTPIPE": "4"})
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TMPDIR"):
        if k in os.environ:
            env[k] = os.environ[k]
    if extra:
        env.update(extra)
    return env


def _fds_to_3_4(sync_fd, start_fd):
    def pre():
        a = os.dup(sync_fd)
        b = os.dup(start_fd)
        os.dup2(a, 3)
        os.dup2(b, 4)
        os.close(a)
        os.close(b)
    return pre


def read_lines(fd, count=1, timeout=30.0):
    """Read `count` newline-terminated messages from fd; returns (list of lines, eof)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while buf.count(b"\n") < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            return [ln for ln in buf.decode(errors="replace").split("\n") if ln], True
        buf += chunk
    return [ln for ln in buf.decode(errors="replace").split("\n") if ln], False


class Container:
    """One container created through the monitor, with all paths CRI-O would use."""

    def __init__(self, h, cid):
        self.h = h
        self.cid = cid
        self.dir = os.path.join(h.base, cid[:16])
        self.bundle = os.path.join(self.dir, "bundle")
        self.persist = os.path.join(self.dir, "persist")
        self.log = os.path.join(self.dir, "ctr.log")
        self.pidfile = os.path.join(self.bundle, "pidfile")
        self.conmon_pidfile = os.path.join(self.bundle, "conmon-pidfile")
        self.exit_file = os.path.join(h.exits, cid)
        self.persist_exit = os.path.join(self.persist, "exit")
        self.attach_path = os.path.join(h.sockets, cid, "attach")
        self.ctl = os.path.join(self.bundle, "ctl")
        self.winsz = os.path.join(self.bundle, "winsz")
        self.parent_rc = None
        self.parent_out = b""
        self.parent_err = b""
        self.sync = []
        self.sync_eof = False
        self.sync_fd = -1
        self.monitor_pid = None
        self.monitor_status = None
        self.spawn_ms = None

    @property
    def msg(self):
        return json.loads(self.sync[0]) if self.sync else None

    @property
    def pid(self):
        m = self.msg
        return m.get("pid") if m else None

    def read_monitor_pid(self):
        try:
            with open(self.conmon_pidfile) as f:
                self.monitor_pid = int(f.read().strip())
        except (OSError, ValueError):
            pass
        return self.monitor_pid

    def start(self):
        return self.h.runc.run("start", self.cid)

    def wait_exit(self, timeout=20, reap_timeout=10):
        """Wait for the exit-dir file, then for the monitor to exit; returns the exit file text."""
        kcoci.wait_for(lambda: os.path.exists(self.exit_file), timeout)
        if self.monitor_pid:
            st = kcoci.reap(self.monitor_pid, timeout=reap_timeout)
            if st is not None:
                self.monitor_status = st
        return read_text(self.exit_file)

    def wait_monitor(self, timeout=20):
        if self.monitor_pid and self.monitor_status is None:
            self.monitor_status = kcoci.reap(self.monitor_pid, timeout)
        return self.monitor_status

    def monitor_exit_code(self):
        st = self.monitor_status
        if st is None:
            return None
        return os.waitstatus_to_exitcode(st)

    def log_text(self):
        return read_text(self.log)

    def close(self):
        if self.sync_fd >= 0:
            os.close(self.sync_fd)
            self.sync_fd = -1


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return None


class Harness:
    """Spawns a monitor the way CRI-O does; every container lives under `base`."""

    def __init__(self, monitor, base, rootfs, runc):
        self.monitor = os.path.abspath(kcoci.require_exe(monitor, "monitor binary"))
        self.base = base
        self.rootfs = rootfs
        self.runc = runc
        self.exits = os.path.join(base, "exits")
        self.sockets = os.path.join(base, "s")
        os.makedirs(self.exits, exist_ok=True)
        os.makedirs(self.sockets, exist_ok=True)
        self.containers = []

    def argv(self, c, terminal=False, stdin=False, leave_stdin_open=False, log_size_max=None,
             log_paths=None, name=None, extra=()):
        a = [self.monitor, "-b", c.bundle, "-c", c.cid, "--exit-dir", self.exits]
        for lp in (log_paths if log_paths is not None else [c.log]):
            a += ["-l", lp]
        a += ["--log-level", "info", "-n", name or f"k8s_{c.cid[:8]}_pod_ns_uid_0",
              "-P", c.conmon_pidfile, "-p", c.pidfile, "--persist-dir", c.persist,
              "-r", self.runc.path, "--runtime-arg", self.runc.root_arg,
              "--socket-dir-path", self.sockets, "--syslog", "-u", c.cid]
        if log_size_max is not None:
            a += ["--log-size-max", str(log_size_max)]
        if terminal:
            a += ["-t"]
        elif stdin:
            a += (["--leave-stdin-open"] if leave_stdin_open else []) + ["-i"]
        return a + list(extra)

    def create(self, cid, args, terminal=False, stdin=False, leave_stdin_open=False,
               log_size_max=None, log_paths=None, name=None, extra=(), argv=None, env=None,
               bundle_args=None, timeout=30, before_start=None, memory_limit=None):
        """CreateContainer: spawn, start-pipe byte, wait for the parent, read the sync message."""
        c = Container(self, cid)
        self.containers.append(c)
        os.makedirs(c.persist, exist_ok=True)
        kcoci.make_bundle(c.bundle, self.rootfs, args if bundle_args is None else bundle_args,
                          terminal=terminal, memory_limit=memory_limit)
        if argv is None:
            argv = self.argv(c, terminal, stdin, leave_stdin_open, log_size_max, log_paths, name,
                             extra)
        sync_p, sync_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        start_p, start_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(argv, cwd=c.bundle, env=crio_env(env), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    preexec_fn=_fds_to_3_4(sync_c.fileno(), start_c.fileno()),
                                    pass_fds=(3, 4), process_group=0)
        finally:
            sync_c.close()
            start_c.close()
        if before_start:
            before_start(c, proc)
        try:
            start_p.send(b"0")
        except OSError:
            pass
        try:
            c.parent_out, c.parent_err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            c.parent_out, c.parent_err = proc.communicate()
        c.parent_rc = proc.returncode
        start_p.close()
        c.sync_fd = sync_p.detach()
        if c.parent_rc == 0:
            c.sync, c.sync_eof = read_lines(c.sync_fd, 1, timeout)
        c.spawn_ms = (time.monotonic() - t0) * 1000
        c.read_monitor_pid()
        return c

    def exec_sync(self, c, args, timeout_s=None, terminal=False, log=None, timeout=30,
                  global_max=16777216):
        """ExecSync as CRI-O does it with --sync; returns (messages, monitor rc, seconds, log)."""
        d = os.path.join(c.dir, f"exec{len(os.listdir(c.dir))}")
        os.makedirs(d)
        spec = os.path.join(d, "exec-process")
        with open(spec, "w") as f:
            json.dump(kcoci.process_spec(args, terminal), f)
        log = log or os.path.join(d, "exec.log")
        argv = [self.monitor, "-c", c.cid, "-n", f"k8s_{c.cid[:8]}", "-r", self.runc.path,
                "-p", os.path.join(d, "pidfile"), "-e", "-l", log, "--socket-dir-path", self.sockets,
                "--log-level", "info", "--sync", "--log-global-size-max", str(global_max)]
        if terminal:
            argv.append("-t")
        if timeout_s is not None:
            argv += ["-T", str(timeout_s)]
        argv += ["--exec-process-spec", spec, "--runtime-arg", self.runc.root_arg]
        r, w = os.pipe()
        start_p, start_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(argv, cwd=d, env=crio_env(), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    preexec_fn=_fds_to_3_4(w, start_c.fileno()), pass_fds=(3, 4),
                                    process_group=0)
        finally:
            os.close(w)
            start_c.close()
        start_p.send(b"0")
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        secs = time.monotonic() - t0
        start_p.close()
        lines, _ = read_lines(r, 10, 0.5)
        os.close(r)
        return {"msgs": [json.loads(x) for x in lines], "raw": lines, "rc": proc.returncode,
                "secs": secs, "log": read_text(log), "stderr": err.decode(errors="replace")}

    def run_cli(self, args, timeout=10):
        """Run the monitor with arbitrary arguments (CLI checks); returns CompletedProcess."""
        return subprocess.run([self.monitor, *args], capture_output=True, text=True,
                              timeout=timeout, env=crio_env(pipes=False),
                              stdin=subprocess.DEVNULL)

    def cleanup(self):
        for c in self.containers:
            c.close()
        kcoci.reap_container_orphans(force=True)
        self.runc.cleanup()
        for c in self.containers:
            if c.monitor_pid and c.monitor_status is None:
                kcoci.kill_and_reap(c.monitor_pid)
        kcoci.reap_all_children()
