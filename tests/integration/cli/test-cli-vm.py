#!/usr/bin/env python3
"""kata-runtime against a real pod VM (kata-conmon's VM engine, QEMU under TCG), one boot: start,
attached exec (stdio, exit codes, stdin), exec with a terminal (size forwarding), detached exec,
pause/resume, kill -a, ps, then delete --force of a running sandbox leaving nothing behind."""
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time

SRC = os.environ.get("KC_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration", "vm"))
import kccrio  # noqa: E402
import kcoci  # noqa: E402
import kctap  # noqa: E402

try:
    import kcvm  # noqa: E402  (the VM engine tests' set-up: guest image, configuration)
except ImportError:
    kcvm = None

tap = kctap.Tap()


def create(h, cid, args, annotations, menv, cgroup_mount=False):
    def edit(spec):
        # The container sees its own cgroup at /sys/fs/cgroup (as runc's default spec has it).
        spec.setdefault("mounts", []).append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                                              "source": "cgroup",
                                              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
    return kcvm.create(h, cid, args, annotations, menv, edit=edit if cgroup_mount else None, timeout=180)


# Inside the container: its own cgroup directory under the cgroup2 mount (without a cgroup namespace
# the runtime mounts the whole guest hierarchy there).
CGROUP_DIR = "d=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup); "


def write_process(path, args, terminal=False):
    with open(path, "w") as f:
        json.dump(kcoci.process_spec(args, terminal), f)
    return path


def exec_on_pty(kr, cid, spec, rows, cols, timeout=60):
    """kata-runtime exec --tty on a pty we own, like CRI-O's tty exec; returns (rc, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    p = subprocess.Popen([kr.path, kr.root_arg, "exec", "--tty", "--process", spec, cid], stdin=slave,
                         stdout=slave, stderr=slave, env=kr.env, start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    os.close(master)
    return rc, out.decode(errors="replace")


def run(h, kr, menv, vmdir, tmp):
    sid = "clipod-" + os.urandom(4).hex()
    pod = create(h, sid, ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
                 {kcvm.T_TYPE: "sandbox", kcvm.T_SANDBOX: sid}, menv)
    if not tap.ok(pod.pid and pod.pid > 0, "sandbox created (VM booted)", f"sync={pod.sync} err={pod.parent_err!r}"):
        return
    tap.eq(kr.run("start", sid, check=False).returncode, 0, "start <sandbox>")
    # app prints a tick every 0.2 s: its log shows whether it runs (pause/resume).
    app = create(h, "app", ["sh", "-c", "trap 'exit 143' TERM; i=0; while true; do i=$((i+1)); echo tick-$i; "
                            "sleep 0.2; done"],
                 {kcvm.T_TYPE: "container", kcvm.T_SANDBOX: sid}, menv, cgroup_mount=True)
    if not tap.ok(app.pid and app.pid > 0, "container created in the pod", f"sync={app.sync}"):
        return
    r = kr.run("start", "app", check=False)
    tap.eq(r.returncode, 0, "start app")
    st = json.loads(kr.run("state", "app").stdout)
    tap.ok(st["status"] == "running" and st["pid"] == app.pid, "state app: running with the stand-in pid", st)

    # Attached exec: stdout, stderr, stdin, exit code.
    spec = write_process(os.path.join(tmp, "p1.json"),
                         ["sh", "-c", "echo out; echo err >&2; read x; echo got-$x; uname -r; exit 7"])
    t0 = time.monotonic()
    r = subprocess.run([kr.path, kr.root_arg, "exec", "--process", spec, "app"], input="abc\n",
                       capture_output=True, text=True, env=kr.env, timeout=60)
    tap.diag("attached exec took %.2f s" % (time.monotonic() - t0))
    lines = r.stdout.splitlines()
    tap.ok(r.returncode == 7 and lines[:2] == ["out", "got-abc"] and "err" in r.stderr,
           "exec relays stdin/stdout/stderr and exits with the guest status (7)", (r.returncode, r.stdout, r.stderr))
    tap.ok(len(lines) == 3 and lines[2] != os.uname().release, "exec runs on the guest kernel", lines)
    r = subprocess.run([kr.path, kr.root_arg, "exec", "app", "sh", "-c", "kill -9 $$"], capture_output=True,
                       text=True, env=kr.env, timeout=60, stdin=subprocess.DEVNULL)
    tap.eq(r.returncode, 137, "exec with command args; a process killed by SIGKILL gives 137")
    # A program that cannot be started: the status a shell gives (127 not found, 126 not executable).
    for i, (args, rc, phrase) in enumerate(((["/no/such/binary"], 127, "no such file or directory"),
                                            (["nosuchcmd"], 127, "not found"),
                                            (["/etc/passwd"], 126, "permission denied"),
                                            (["/etc"], 126, "permission denied"))):
        spec_bad = write_process(os.path.join(tmp, "bad%d.json" % i), args)
        r = kr.run("exec", "--process", spec_bad, "app", check=False)
        tap.ok(r.returncode == rc and phrase in r.stderr and args[0] in r.stderr,
               f"exec of {args[0]}: exit {rc} with a message", (r.returncode, r.stderr))
    r = subprocess.run([kr.path, kr.root_arg, "exec", "--detach", "--process", spec_bad, "app"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, env=kr.env, timeout=60)
    tap.ok(r.returncode == 126 and "permission denied" in r.stderr, "exec --detach of a directory: exit 126",
           (r.returncode, r.stderr))
    r = kr.run("exec", "app", "sh", "-c", "exit 0", check=False)
    tap.eq(r.returncode, 0, "the container still takes execs after the failed ones")

    # update --resources (CRI-O's UpdateContainerResources): the guest's cgroup gets the new limits.
    for limit, desc in ((64 * 1024 * 1024, "memory limit 64 MiB"), (96 * 1024 * 1024, "then 96 MiB")):
        # The second one as CRI-O sends it: swap equal to the limit (no swap on top).
        res = {"memory": {"limit": limit} if limit == 64 * 1024 * 1024 else {"limit": limit, "swap": limit},
               "cpu": {"shares": 512, "quota": 20000, "period": 100000}, "pids": {"limit": 200}}
        r = subprocess.run([kr.path, kr.root_arg, "update", "--resources", "-", "app"], input=json.dumps(res),
                           capture_output=True, text=True, env=kr.env, timeout=60)
        tap.eq(r.returncode, 0, f"update --resources - app: {desc}", r.stderr)
        r = kr.run("exec", "app", "sh", "-c", CGROUP_DIR + "cat $d/memory.max $d/cpu.max $d/pids.max",
                   check=False)
        tap.eq(r.stdout.split(), [str(limit), "20000", "100000", "200"],
               f"the guest cgroup of app has it (memory.max, cpu.max, pids.max)", r.stderr)
    r = subprocess.run([kr.path, kr.root_arg, "update", "--resources", "-", "app"],
                       input=json.dumps({"memory": {"limit": "lots"}}), capture_output=True, text=True,
                       env=kr.env, timeout=60)
    tap.ok(r.returncode == 1 and "memory.limit" in r.stderr, "update with a mistyped limit: exit 1, a message",
           r.stderr)

    # Terminal: the pty size reaches the guest; the output comes back through the tty stream.
    spec_tty = write_process(os.path.join(tmp, "p3.json"), ["sh", "-c", "stty size; tty; exit 3"], terminal=True)
    rc, out = exec_on_pty(kr, "app", spec_tty, 33, 101)
    tap.ok(rc == 3 and "33 101" in out and "/dev/pts/" in out, "exec --tty: size forwarded, guest tty, status 3",
           (rc, out))

    # Detached exec: the relay's pid in --pid-file lives as long as the process.
    pidfile = os.path.join(tmp, "exec.pid")
    spec_d = write_process(os.path.join(tmp, "p4.json"), ["sleep", "3"])
    # The relay keeps the stdio it was given (as runc's detached process does): give it files.
    with open(os.path.join(tmp, "detach.err"), "w+") as err:
        r = subprocess.run([kr.path, kr.root_arg, "exec", "--detach", "--pid-file", pidfile, "--process", spec_d,
                            "app"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=kr.env,
                           timeout=60)
        err.seek(0)
        errtext = err.read()
    pid = int(kccrio.read_text(pidfile) or 0)
    tap.ok(r.returncode == 0 and pid > 0 and kcoci.pid_alive(pid), "exec --detach: live pid in --pid-file",
           (r.returncode, pid, errtext))
    tap.ok(pid > 0 and kcoci.wait_for(lambda: not kcoci.pid_alive(pid), 30), "the detached relay exits with its "
           "process")
    kcoci.reap(pid, 1) if pid > 0 else None

    # ps, pause/resume, kill -a.
    r = kr.run("ps", "--format", "json", "app", check=False)
    tap.ok(r.returncode == 0 and json.loads(r.stdout) == [app.pid], "ps --format json: the stand-in pid", r.stdout)
    def ticks():
        return (app.log_text() or "").count("tick-")
    tap.eq(kr.run("pause", "app", check=False).returncode, 0, "pause app")
    tap.eq(json.loads(kr.run("state", "app").stdout)["status"], "paused", "state app: paused")
    time.sleep(0.5)
    n0 = ticks()
    time.sleep(1.5)
    n1 = ticks()
    tap.ok(n0 > 0 and n1 == n0, "paused: app's processes are frozen (no ticks in 1.5 s)", (n0, n1))
    r = kr.run("exec", "--process", spec, "app", check=False)
    tap.ok(r.returncode == 1 and "paused" in r.stderr, "exec into a paused container is refused", r.stderr)
    tap.eq(kr.run("resume", "app", check=False).returncode, 0, "resume app")
    tap.eq(json.loads(kr.run("state", "app").stdout)["status"], "running", "state app: running again")
    tap.ok(kcoci.wait_for(lambda: ticks() > n1 + 2, 10), "resumed: app ticks again", (n1, ticks()))
    r = kr.run("exec", "app", "sh", "-c", CGROUP_DIR + "cat $d/cgroup.freeze", check=False)
    tap.eq(r.stdout.strip(), "0", "the guest cgroup is thawed (cgroup.freeze 0)", r.stderr)
    tap.eq(kr.run("kill", "-a", "app", "KILL", check=False).returncode, 0, "kill -a app KILL")
    tap.eq(app.wait_exit(30), "137", "app's exit status is 137")
    st = json.loads(kr.run("state", "app").stdout)
    tap.ok(st["status"] == "stopped", "state app: stopped", st)
    r = kr.run("kill", "app", "9", check=False)
    tap.ok(r.returncode == 1 and "container not running" in r.stderr, "kill of a stopped container: not-found "
           "phrase", r.stderr)
    tap.eq(kr.run("delete", "app", check=False).returncode, 0, "delete app")

    # delete --force of a running container: the guest process is killed, the monitor still records
    # the exit (it needs the state lock, which delete must not hold while waiting), all is removed.
    app2 = create(h, "app2", ["sh", "-c", "while true; do sleep 1; done"],
                  {kcvm.T_TYPE: "container", kcvm.T_SANDBOX: sid}, menv)
    if tap.ok(app2.pid and app2.pid > 0, "second container created", f"sync={app2.sync}"):
        tap.eq(kr.run("start", "app2", check=False).returncode, 0, "start app2")
        t0 = time.monotonic()
        r = kr.run("delete", "--force", "app2", check=False, timeout=60)
        secs = time.monotonic() - t0
        tap.ok(r.returncode == 0 and secs < 8, "delete --force of a running container, without timeouts "
               "(%.2f s)" % secs, r.stderr)
        tap.eq(app2.wait_exit(20), "137", "its monitor still wrote the exit file (137)")
        tap.ok(not kcoci.pid_alive(app2.pid), "its stand-in is gone")
        tap.ok(not os.path.exists(os.path.join(vmdir, sid, "shared", "app2")) and
               not os.path.exists(os.path.join(kr.root, "app2")), "its shared dir and state are gone")

    # delete --force of the running sandbox: the VM, its processes, mounts and dirs all go.
    t0 = time.monotonic()
    r = kr.run("delete", "--force", sid, check=False, timeout=60)
    tap.ok(r.returncode == 0, "delete --force <running sandbox>", r.stderr)
    tap.diag("delete --force of the sandbox took %.2f s" % (time.monotonic() - t0))
    pod.wait_monitor(20)
    tap.ok(not kcoci.pid_alive(pod.pid), "QEMU is gone")
    time.sleep(0.2)
    tap.eq(kcvm.processes_matching(vmdir), [], "no QEMU or virtiofsd left")
    tap.eq([p for p in kcvm.processes_matching(tmp) if kcvm.comm(p[0]) == "kc-standin"], [], "no stand-in left")
    tap.eq(kcvm.mounts_under(tmp), [], "no mounts left")
    tap.eq(sorted(os.listdir(vmdir)) if os.path.isdir(vmdir) else [], [], "no sandbox dir left")
    tap.eq(sorted(os.listdir(kr.root)), [], "no state left under the runtime root")
    r = kr.run("delete", "--force", sid, check=False)
    tap.eq(r.returncode, 0, "delete --force again: exit 0")


def main():
    tmp = None
    h = kr = None
    try:
        if kcvm is None:
            raise kcoci.Missing("tests/integration/vm/kcvm.py (the VM engine tests' set-up) is missing")
        e = kcvm.env()
        kcoci.become_subreaper()
        tmp = tempfile.mkdtemp(prefix="kr-vm-", dir="/tmp")
        kernel, initrd = kcvm.build_image(e, os.path.join(tmp, "img"))
        conf = kcvm.write_conf(os.path.join(tmp, "kata-conmon.conf"), kernel, initrd)
        vmdir = os.path.join(tmp, "vm")
        menv = {"KATA_CONMON_CONF": conf, "KATA_CONMON_VM_RUN_DIR": vmdir}
        kr = kcvm.KataRuntime(e["KC_RUNTIME"], os.path.join(tmp, "root"), dict(os.environ, **menv))
        rootfs = kcoci.make_rootfs(os.path.join(tmp, "rootfs"))
        h = kccrio.Harness(e["KC_CONMON_VM"], tmp, rootfs, kr)
        run(h, kr, menv, vmdir, tmp)
    except kcoci.Missing as ex:
        tap.fail_prereq(str(ex))
    except Exception as ex:  # noqa: BLE001
        import traceback
        tap.ok(False, f"harness raised {type(ex).__name__}: {ex}", traceback.format_exc())
    finally:
        if h:
            h.cleanup()
        kcoci.reap_all_children()
        if tmp:
            kcvm.remove_tmp(tmp)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
