#!/usr/bin/env python3
"""kata-runtime's verbs against state directories and a fake sandbox mux (no VM): version,
features, state/liveness, kill, start, pause/resume, update, exec relay, ps, delete, not-found
phrases, --log formats, concurrent calls, check and env."""
import hashlib
import json
import os
import re
import select
import socket
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("KC_SOURCE_DIR", os.path.join(HERE, "../../..")), "tests/lib"))
import fakemux  # noqa: E402
import kctap  # noqa: E402

NOT_FOUND = re.compile(r"container not running|no such process|not found")
tap = kctap.Tap()
K = os.environ.get("KC_RUNTIME", "")
TMP = tempfile.mkdtemp(prefix="kr-verbs-", dir="/tmp")
ROOT = os.path.join(TMP, "root")
RUN = os.path.join(TMP, "run")
os.makedirs(ROOT)
os.makedirs(RUN)
children = []
mounts = []


def kr(*args, stdin=None, root=ROOT, env=None, timeout=60):
    argv = [K] + (["--root", root] if root else []) + list(args)
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, env=e)


def start_time(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return int(text[text.rindex(")") + 2:].split()[19])


def sleeper():
    p = subprocess.Popen(["sleep", "1000"])
    children.append(p)
    return p


def write_state(cid, role="container", sandbox="pod", pid=0, start=0, status="running", bundle=None, **extra):
    d = os.path.join(ROOT, cid)
    os.makedirs(d, exist_ok=True)
    st = {"id": cid, "role": role, "sandbox_id": sandbox, "bundle": bundle or f"/bundles/{cid}",
          "pid": pid, "monitor_pid": 0, "pid_start_time": start, "status": status,
          "created": "2026-12-06T01:50:00.123456789Z",
          "annotations": {"io.kubernetes.cri-o.ContainerType": role},
          "sandbox_dir": os.path.join(RUN, sandbox)}
    st.update(extra)
    with open(os.path.join(d, "state.json"), "w") as f:
        json.dump(st, f)
    return st


def read_state(cid):
    with open(os.path.join(ROOT, cid, "state.json")) as f:
        return json.load(f)


def sandbox_dir(sid):
    d = os.path.join(RUN, sid)
    os.makedirs(os.path.join(d, "shared"), exist_ok=True)
    return d


def state_json(cid, **kw):
    r = kr("state", cid, **kw)
    if r.returncode != 0:
        raise AssertionError(f"state {cid}: rc {r.returncode}: {r.stderr}")
    return json.loads(r.stdout)


def t_version():
    for flag in ("--version", "-v"):
        r = kr(flag, root=None)
        tap.eq(r.returncode, 0, f"{flag} exits 0")
        tap.match(r"\Akata-runtime version \d+\.\d+\.\d+\n", r.stdout, f"{flag}: first line 'kata-runtime version X'")
        tap.match(r"^spec: 1\.\d+\.\d+$", r.stdout, f"{flag}: 'spec: 1.x' line")


def t_features():
    r = kr("features", root=None)
    tap.eq(r.returncode, 0, "features exits 0")
    f = json.loads(r.stdout)
    tap.ok(re.match(r"^1\.\d+\.\d+$", f.get("ociVersionMin", "")) and
           re.match(r"^1\.\d+\.\d+$", f.get("ociVersionMax", "")), "features: ociVersionMin/Max are 1.x.y")
    tap.ok(isinstance(f.get("hooks"), list) and isinstance(f.get("mountOptions"), list) and "ro" in f["mountOptions"],
           "features: hooks and mountOptions arrays")
    lx = f.get("linux", {})
    tap.ok({"pid", "mount", "network", "ipc", "uts"} <= set(lx.get("namespaces", [])), "features: linux.namespaces")
    tap.ok("CAP_SYS_ADMIN" in lx.get("capabilities", []), "features: linux.capabilities")
    tap.ok(lx.get("cgroup", {}).get("v2") is True and lx.get("seccomp", {}).get("enabled") is True and
           "enabled" in lx.get("apparmor", {}) and "enabled" in lx.get("selinux", {}),
           "features: cgroup, seccomp, apparmor, selinux sections")


def t_usage_errors():
    r = kr(root=None)
    tap.eq(r.returncode, 1, "no command: exit 1")
    r = kr("frobnicate")
    tap.ok(r.returncode == 1 and "frobnicate" in r.stderr, "unknown command: exit 1 naming it", r.stderr)
    r = kr("--bogus-option", "state", "x")
    tap.ok(r.returncode == 1 and "bogus" in r.stderr, "unknown global option: exit 1", r.stderr)
    r = kr("--log-format", "xml", "state", "x")
    tap.ok(r.returncode == 1 and "log-format" in r.stderr, "bad --log-format: exit 1", r.stderr)
    r = kr("state")
    tap.ok(r.returncode == 1 and r.stderr, "state without an id: exit 1 with a message", r.stderr)
    r = kr("create", "--bundle", "/b", "x")
    tap.ok(r.returncode == 1 and "kata-conmon" in r.stderr, "create: exit 1 pointing at kata-conmon", r.stderr)
    r = kr("checkpoint", "x")
    tap.ok(r.returncode == 1 and "not supported" in r.stderr, "checkpoint: exit 1, not supported", r.stderr)
    r = kr("state", "../etc")
    tap.ok(r.returncode == 1 and "invalid container id" in r.stderr, "a path as id is refused", r.stderr)


def t_not_found():
    for verb in (["state"], ["start"], ["kill"], ["kill", "-a"], ["pause"], ["resume"], ["ps"],
                 ["exec", "--process", "/dev/null"]):
        r = kr(*verb, "nosuch")
        tap.ok(r.returncode == 1 and NOT_FOUND.search(r.stderr), f"{' '.join(verb)} of a missing container: "
               "exit 1 with a not-found phrase CRI-O knows", r.stderr)
    r = kr("update", "--resources", "-", "nosuch", stdin="{}")
    tap.ok(r.returncode == 1 and NOT_FOUND.search(r.stderr), "update of a missing container: not found", r.stderr)
    r = kr("delete", "nosuch")
    tap.ok(r.returncode == 1 and "not found" in r.stderr, "delete of a missing container: exit 1 'not found'",
           r.stderr)
    r = kr("state", "nosuch")
    tap.ok("does not exist" in r.stderr and "container not running" in r.stderr,
           "missing container: both podman's ('does not exist') and CRI-O's phrases", r.stderr)
    r = kr("delete", "--force", "nosuch")
    tap.eq(r.returncode, 0, "delete --force of a missing container: exit 0")
    # Debris without state.json (aborted create) is removed.
    os.makedirs(os.path.join(ROOT, "debris", "sub"))
    r = kr("delete", "--force", "debris")
    tap.ok(r.returncode == 0 and not os.path.exists(os.path.join(ROOT, "debris")),
           "delete --force removes a state dir without state.json", r.stderr)


def t_log_formats():
    logj = os.path.join(TMP, "log.json")
    r = kr("--log", logj, "--log-format", "json", "state", "nosuch")
    tap.ok(r.returncode == 1 and "container not running" in r.stderr, "--log json: error still on stderr")
    lines = [json.loads(l) for l in open(logj).read().splitlines()]
    tap.ok(len(lines) >= 1 and all(set(("level", "msg", "time")) <= set(l) for l in lines) and
           lines[-1]["level"] == "error" and "nosuch" in lines[-1]["msg"] and
           re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$", lines[-1]["time"]),
           "--log-format json writes {level,msg,time} lines", lines)
    logt = os.path.join(TMP, "log.txt")
    r = kr(f"--log={logt}", "--log-format=text", "kill", "nosuch", "9")
    tap.match(r'^time="[^"]+" level=error msg=".*nosuch.*"$', open(logt).read(), "--log text lines")


def t_state_liveness():
    p = sleeper()
    st = write_state("live", role="sandbox", sandbox="live", pid=p.pid, start=start_time(p.pid), status="running")
    s = state_json("live")
    tap.ok(s.get("status") == "running" and s.get("pid") == p.pid and s.get("id") == "live" and
           s.get("bundle") == st["bundle"] and s.get("ociVersion", "").startswith("1.") and
           s.get("annotations") == st["annotations"], "state: running with pid, bundle, annotations", s)
    r = kr("state", "live", root=None, env=None) if False else subprocess.run(
        [K, f"--root={ROOT}", "--systemd-cgroup", "state", "live"], capture_output=True, text=True)
    tap.ok(r.returncode == 0 and json.loads(r.stdout)["status"] == "running", "--root=R and --systemd-cgroup accepted")

    write_state("reused", role="sandbox", sandbox="reused", pid=p.pid, start=start_time(p.pid) + 7)
    s = state_json("reused")
    tap.ok(s["status"] == "stopped" and s["pid"] == 0, "state: same pid, other start time: stopped, pid 0", s)

    write_state("paused1", role="sandbox", sandbox="paused1", pid=p.pid, start=start_time(p.pid), status="paused")
    tap.eq(state_json("paused1")["status"], "paused", "state: paused is reported")

    q = sleeper()
    write_state("dies", role="sandbox", sandbox="dies", pid=q.pid, start=start_time(q.pid), status="created")
    tap.eq(state_json("dies")["status"], "created", "state: created")
    q.kill()
    q.wait()
    s = state_json("dies")
    tap.ok(s["status"] == "stopped" and s["pid"] == 0, "state: dead pid: stopped", s)

    r = kr("kill", "dies", "9")
    tap.ok(r.returncode == 1 and "container not running" in r.stderr, "kill of a stopped container: "
           "'container not running'", r.stderr)
    for bad in ("BOGUS", "0", "65", "-9", "SIGKILLX", ""):
        r = kr("kill", "live", bad)
        tap.ok(r.returncode == 1 and re.search("invalid signal|unknown option", r.stderr),
               f"kill with signal {bad!r}: exit 1", r.stderr)
    tap.ok(p.poll() is None, "invalid signals reached nobody")

    open(os.path.join(ROOT, "live", "state.json"), "w").write("{not json")
    r = kr("state", "live")
    tap.ok(r.returncode == 1 and "orrupt" in r.stderr, "corrupt state.json: clear error", r.stderr)


def t_with_mux():
    sdir = sandbox_dir("pod")
    mux = fakemux.FakeMux(sdir)
    try:
        standin = sleeper()
        write_state("c1", pid=standin.pid, start=start_time(standin.pid), status="created")

        r = kr("start", "c1")
        reqs = mux.of_type("start-container")
        tap.ok(r.returncode == 0 and reqs and reqs[-1].get("container-id") == "c1", "start sends start-container",
               r.stderr)
        tap.eq(read_state("c1")["status"], "running", "start records running in state.json")
        tap.eq(state_json("c1")["status"], "running", "state after start: running")
        r = kr("start", "c1")
        tap.ok(r.returncode == 1 and "already running" in r.stderr, "start twice: exit 1", r.stderr)

        for args, sig, all_ in ((["c1"], 15, False), (["c1", "KILL"], 9, False), (["c1", "sigusr1"], 10, False),
                                (["-a", "c1", "9"], 9, True), (["--all", "c1", "SIGHUP"], 1, True),
                                (["c1", "RTMIN+2"], signal.SIGRTMIN + 2, False)):
            n = len(mux.of_type("signal"))
            r = kr("kill", *args)
            got = mux.of_type("signal")[n:]
            tap.ok(r.returncode == 0 and len(got) == 1 and got[0].get("signal") == sig and
                   got[0].get("all") == all_ and got[0].get("container-id") == "c1",
                   f"kill {' '.join(args)}: signal {sig} all={all_}", (r.stderr, got))

        mux.answers["signal"] = {"ok": False, "errno": 3, "message": "no such process"}
        r = kr("kill", "c1", "15")
        tap.ok(r.returncode == 1 and NOT_FOUND.search(r.stderr), "kill: agent ESRCH gives a not-found phrase", r.stderr)
        del mux.answers["signal"]

        nsig = len(mux.of_type("signal"))
        r = kr("pause", "c1")
        got = mux.of_type("pause-container")
        tap.ok(r.returncode == 0 and len(got) == 1 and got[0].get("container-id") == "c1",
               "pause sends pause-container (the guest's cgroup freezer)", (r.stderr, got))
        tap.eq(state_json("c1")["status"], "paused", "state after pause: paused")
        r = kr("pause", "c1")
        tap.ok(r.returncode == 1 and "paused" in r.stderr, "pause twice: exit 1", r.stderr)
        r = kr("resume", "c1")
        got = mux.of_type("resume-container")
        tap.ok(r.returncode == 0 and len(got) == 1 and got[0].get("container-id") == "c1",
               "resume sends resume-container", (r.stderr, got))
        tap.eq(len(mux.of_type("signal")), nsig, "pause/resume send no signals (no SIGSTOP/SIGCONT)")
        tap.eq(state_json("c1")["status"], "running", "state after resume: running")
        r = kr("resume", "c1")
        tap.ok(r.returncode == 1 and "not paused" in r.stderr, "resume of a running container: exit 1", r.stderr)

        res = {"memory": {"limit": 268435456}, "cpu": {"shares": 512, "quota": 50000, "period": 100000}}
        r = kr("update", "--resources", "-", "c1", stdin=json.dumps(res))
        got = mux.of_type("update-container")
        tap.ok(r.returncode == 0 and got and got[-1]["resources"] == res and got[-1]["container-id"] == "c1",
               "update --resources - sends the resources", r.stderr)
        resfile = os.path.join(TMP, "resources.json")
        with open(resfile, "w") as f:
            json.dump({"pids": {"limit": 100}}, f)
        r = kr("update", f"--resources={resfile}", "c1")
        got = mux.of_type("update-container")
        tap.ok(r.returncode == 0 and got[-1]["resources"] == {"pids": {"limit": 100}}, "update --resources=FILE",
               r.stderr)
        n = len(mux.of_type("update-container"))
        for bad in ("[1]", "{\"memory\": {\"limit\": \"big\"}}", "not json", "{\"cpu\": {\"shares\": -5}}",
                    "{\"memory\": {\"swappiness\": 101}}", "{\"unified\": {\"../../etc/passwd\": \"x\"}}",
                    "{\"unified\": {\"memory.high\": 5}}", "{\"pids\": []}"):
            r = kr("update", "--resources", "-", "c1", stdin=bad)
            tap.ok(r.returncode == 1 and len(mux.of_type("update-container")) == n,
                   f"update with bad resources {bad!r}: exit 1, nothing sent", r.stderr)
        mux.answers["update-container"] = {"ok": False, "errno": 38, "message": "unknown request"}
        r = kr("update", "--resources", "-", "c1", stdin="{}")
        tap.ok(r.returncode == 1 and "does not support" in r.stderr, "update against an agent without it: exit 1",
               r.stderr)
        del mux.answers["update-container"]

        r = kr("ps", "--format", "json", "c1")
        tap.ok(r.returncode == 0 and json.loads(r.stdout) == [standin.pid], "ps --format json lists the host pid",
               r.stdout)
        r = kr("list", "--format", "json")
        ids = {s["id"] for s in json.loads(r.stdout)} if r.returncode == 0 else set()
        tap.ok("c1" in ids, "list shows the container", r.stdout)

        t_exec(mux)
        t_concurrent(mux)

        # delete: refused while running, then --force removes it in the guest, its stand-in, mounts, state.
        r = kr("delete", "c1")
        tap.ok(r.returncode == 1 and "not stopped" in r.stderr, "delete of a running container without --force: "
               "exit 1", r.stderr)

        def remove(req, conn, fid):
            standin.kill()  # the monitor would see the guest process die and end its stand-in
            return {"ok": True}
        mux.answers["remove-container"] = remove
        rootfs = os.path.join(sdir, "shared", "c1", "rootfs")
        src = os.path.join(TMP, "rootfs-src")
        os.makedirs(rootfs)
        os.makedirs(src, exist_ok=True)
        subprocess.run(["mount", "--bind", src, rootfs], check=True)
        mounts.append(rootfs)
        r = kr("delete", "--force", "c1")
        got = mux.of_type("remove-container")
        tap.ok(r.returncode == 0 and got and got[-1] == {"type": "remove-container", "container-id": "c1",
                                                          "force": True}, "delete --force: remove-container", r.stderr)
        standin.wait(timeout=5)
        tap.ok(not os.path.ismount(rootfs) and not os.path.exists(os.path.join(sdir, "shared", "c1")),
               "delete unmounts and removes the container's shared dir")
        tap.ok(not os.path.exists(os.path.join(ROOT, "c1")), "delete removes the state dir")
        tap.ok(os.path.exists(mux.path), "deleting a container leaves its sandbox alone")
        r = kr("delete", "--force", "c1")
        tap.eq(r.returncode, 0, "delete --force again: exit 0")
    finally:
        mux.close()


def t_exec(mux):
    def exec_answer(req, conn, fid):
        out, err = req.get("stdout"), req.get("stderr")
        mux.send(conn, fakemux.json_frame(fakemux.REPLY, fid, {"ok": True, "pid": 42}))
        args = req["process"]["args"]
        if args[0] == "echo-stdin":
            mux.stdin_target = (conn, out, req["exec-id"])
            return None
        mux.send(conn, fakemux.frame(fakemux.DATA, out, b"hello\n"))
        if err:
            mux.send(conn, fakemux.frame(fakemux.DATA, err, b"oops\n"))
            mux.send(conn, fakemux.frame(fakemux.DATA, err, b""))
        mux.send(conn, fakemux.frame(fakemux.DATA, out, b""))
        ev = {"type": "exit", "container-id": req["container-id"], "exec-id": req["exec-id"], "pid": 42}
        ev.update({"signal": 9} if args[0] == "die" else {"exit-code": 3})
        mux.send(conn, fakemux.json_frame(fakemux.EVENT, 0, ev))
        return None

    buf = bytearray()

    def on_data(conn, stream, payload):
        target = getattr(mux, "stdin_target", None)
        if not target or target[0] is not conn:
            return
        c, out, eid = target
        if payload:
            buf.extend(payload)
            return
        # Frames are at most 64 KiB: answer with a digest of what arrived.
        digest = f"{len(buf)} {hashlib.sha256(bytes(buf)).hexdigest()}\n".encode()
        mux.send(c, fakemux.frame(fakemux.DATA, out, digest))
        mux.send(c, fakemux.frame(fakemux.DATA, out, b""))
        mux.send(c, fakemux.json_frame(fakemux.EVENT, 0, {"type": "exit", "container-id": "c1", "exec-id": eid,
                                                          "pid": 42, "exit-code": 0}))

    mux.answers["exec"] = exec_answer
    mux.on_data = on_data
    proc = os.path.join(TMP, "process.json")
    with open(proc, "w") as f:
        json.dump({"args": ["sh", "-c", "x"], "cwd": "/", "env": ["PATH=/bin"], "terminal": False}, f)
    r = kr("exec", "--process", proc, "c1", stdin="")
    got = mux.of_type("exec")
    tap.ok(r.returncode == 3 and r.stdout == "hello\n" and "oops" in r.stderr,
           "exec relays stdout/stderr and exits with the process's code", (r.returncode, r.stdout, r.stderr))
    tap.ok(got and got[-1]["process"]["args"] == ["sh", "-c", "x"] and got[-1]["tty"] is False and
           got[-1]["stdout"] != got[-1]["stderr"] and got[-1]["exec-id"], "exec request carries process and streams",
           got[-1] if got else None)

    with open(proc, "w") as f:
        json.dump({"args": ["die"], "cwd": "/"}, f)
    r = kr("exec", "--process", proc, "c1", stdin="")
    tap.eq(r.returncode, 137, "exec: a process killed by SIGKILL gives 137")

    with open(proc, "w") as f:
        json.dump({"args": ["echo-stdin"], "cwd": "/"}, f)
    data = "line one\n" + "x" * 300000 + "\nend\n"
    r = kr("exec", "--process", proc, "c1", stdin=data)
    expect = f"{len(data)} {hashlib.sha256(data.encode()).hexdigest()}\n"
    tap.ok(r.returncode == 0 and r.stdout == expect, "exec relays stdin (300 KB, beyond one credit window)",
           (r.returncode, len(r.stdout), r.stderr[-300:]))

    pidfile = os.path.join(TMP, "exec.pid")
    with open(proc, "w") as f:
        json.dump({"args": ["sh"], "cwd": "/"}, f)
    r = kr("exec", "--detach", "--pid-file", pidfile, "--process", proc, "c1", stdin="")
    pid = int(open(pidfile).read()) if os.path.exists(pidfile) else 0
    tap.ok(r.returncode == 0 and pid > 0, "exec --detach writes the relay's pid to --pid-file", r.stderr)
    if pid > 0:
        for _ in range(500):
            if not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z":
                break
            time.sleep(0.01)
        try:
            os.waitpid(pid, os.WNOHANG)  # not our child; the kernel re-parents it
        except ChildProcessError:
            pass
        tap.ok(not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split(") ")[1][:1],
               "the detached relay exits when the process does")

    # --console-socket: the pty master arrives over SCM_RIGHTS; guest tty output shows up on it.
    def tty_answer(req, conn, fid):
        mux.send(conn, fakemux.json_frame(fakemux.REPLY, fid, {"ok": True, "pid": 43}))
        tap.ok(req["tty"] is True and req["stderr"] == 0, "exec --tty: one output stream", req)
        mux.send(conn, fakemux.frame(fakemux.DATA, req["stdout"], b"tty-out\r\n"))
        mux.send(conn, fakemux.frame(fakemux.DATA, req["stdout"], b""))
        mux.send(conn, fakemux.json_frame(fakemux.EVENT, 0, {"type": "exit", "container-id": "c1",
                                                             "exec-id": req["exec-id"], "pid": 43,
                                                             "exit-code": 0}))
    mux.answers["exec"] = tty_answer
    csock_path = os.path.join(TMP, "console.sock")
    csock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    csock.bind(csock_path)
    csock.listen(1)
    with open(proc, "w") as f:
        json.dump({"args": ["sh"], "cwd": "/", "terminal": True}, f)
    p = subprocess.Popen([K, "--root", ROOT, "exec", "--tty", "--detach", "--console-socket", csock_path,
                          "--pid-file", pidfile, "--process", proc, "c1"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    csock.settimeout(10)
    conn, _ = csock.accept()
    msg, fds, _, _ = socket.recv_fds(conn, 64, 1)
    out = b""
    if fds:
        deadline = time.monotonic() + 10
        while b"tty-out" not in out and time.monotonic() < deadline:
            r_, _, _ = select.select([fds[0]], [], [], 1)
            if r_:
                try:
                    out += os.read(fds[0], 1024)
                except OSError:
                    break
    err = p.communicate(timeout=30)[1]
    tap.ok(p.returncode == 0 and len(fds) == 1 and b"tty-out" in out,
           "exec --console-socket: pty master sent, guest tty output readable on it", (p.returncode, out, err))
    for fd in fds:
        os.close(fd)
    conn.close()
    csock.close()

    mux.answers["exec"] = {"ok": False, "errno": 2, "message": "executable file not found"}
    r = kr("exec", "--process", proc, "c1", stdin="")
    tap.ok(r.returncode == 1 and "executable file not found" in r.stderr, "exec failure: exit 1 with the agent's "
           "message", r.stderr)
    with open(proc, "w") as f:
        json.dump({"args": []}, f)
    r = kr("exec", "--process", proc, "c1")
    tap.ok(r.returncode == 1 and "args" in r.stderr, "exec with empty args: exit 1", r.stderr)
    del mux.answers["exec"]


def t_concurrent(mux):
    """Many callers on one container at once: every call succeeds and state.json stays whole."""
    results = []

    def call(i):
        results.append(kr("kill", "c1", "10") if i % 2 else kr("state", "c1"))
    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tap.ok(all(r.returncode == 0 for r in results), "16 concurrent kill/state calls all succeed",
           [r.stderr for r in results if r.returncode])
    flips = []

    def flip(i):
        flips.append(kr("pause", "c1") if i % 2 == 0 else kr("state", "c1"))
    threads = [threading.Thread(target=flip, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pauses = [r for i, r in enumerate(flips) if r.args[3] == "pause"]
    tap.ok(sum(r.returncode == 0 for r in pauses) == 1 and all("paused" in r.stderr for r in pauses if r.returncode),
           "4 concurrent pause calls: exactly one wins, the others see 'paused' (the lock serialises them)",
           [(r.returncode, r.stderr) for r in pauses])
    tap.ok(kr("resume", "c1").returncode == 0 and read_state("c1")["status"] == "running",
           "state.json intact after concurrent writers")


def t_delete_sandbox():
    sdir = sandbox_dir("pod2")
    qemu = sleeper()
    write_state("pod2", role="sandbox", sandbox="pod2", pid=qemu.pid, start=start_time(qemu.pid), status="running")
    r = kr("delete", "--force", "pod2")  # no mux: nobody serves the sandbox any more
    qemu.wait(timeout=5)
    tap.ok(r.returncode == 0 and qemu.returncode == -9, "delete --force of a sandbox without its monitor kills "
           "its VM pid", (r.returncode, r.stderr, qemu.returncode))
    tap.ok(not os.path.exists(sdir) and not os.path.exists(os.path.join(ROOT, "pod2")),
           "... and removes the sandbox dir and the state dir")

    sdir = sandbox_dir("pod3")
    mux = fakemux.FakeMux(sdir)
    qemu = sleeper()

    def teardown(req, conn, fid):
        qemu.kill()  # the sandbox monitor powers the VM off when its workload dies
        return {"ok": True}
    mux.answers["signal"] = teardown
    write_state("pod3", role="sandbox", sandbox="pod3", pid=qemu.pid, start=start_time(qemu.pid), status="running")
    os.makedirs(os.path.join(sdir, "shared", "pod3", "rootfs"))
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", os.path.join(sdir, "shared", "pod3", "rootfs")], check=True)
    mounts.append(os.path.join(sdir, "shared", "pod3", "rootfs"))
    try:
        t0 = time.monotonic()
        r = kr("delete", "--force", "pod3")
        got = mux.of_type("signal")
        tap.ok(r.returncode == 0 and got and got[0]["signal"] == 9 and got[0]["all"] is True,
               "delete --force of a live sandbox kills its workload through the mux", r.stderr)
        tap.ok(time.monotonic() - t0 < 10, "... without waiting for timeouts")
        tap.ok(not os.path.exists(sdir) and not os.path.exists(os.path.join(ROOT, "pod3")),
               "... and leaves no sandbox dir, mounts or state")
    finally:
        mux.close()

    # Concurrent deletes of one stopped container: all succeed, nothing left.
    write_state("gone", pid=0, status="stopped", sandbox="nopod", exit_status=0)
    results = []
    threads = [threading.Thread(target=lambda: results.append(kr("delete", "--force", "gone"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tap.ok(all(r.returncode == 0 for r in results) and not os.path.exists(os.path.join(ROOT, "gone")),
           "6 concurrent delete --force: all exit 0, state removed", [r.stderr for r in results])


def t_check_env():
    conf = os.path.join(TMP, "kata-conmon.conf")
    kernel, initrd = os.path.join(TMP, "vmlinux"), os.path.join(TMP, "initrd")
    for p in (kernel, initrd):
        open(p, "w").write("x")
    vfsd = next((p for p in ("/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd") if os.access(p, os.X_OK)), None)
    qemu = "/usr/bin/qemu-system-x86_64"
    if not vfsd or not os.access(qemu, os.X_OK):
        tap.fail_prereq("QEMU and virtiofsd must be installed (scripts/setup-debian.sh)")
        return
    with open(conf, "w") as f:
        f.write(f"[hypervisor.qemu]\npath = {qemu}\nkernel = {kernel}\ninitrd = {initrd}\naccel = tcg\n"
                f"virtio_fs_daemon = {vfsd}\n[runtime]\nvm_run_dir = {RUN}\n")
    env = {"KATA_CONMON_CONF": conf}
    r = kr("check", env=env)
    tap.ok(r.returncode == 0 and "FAIL" not in r.stdout and "accelerator tcg" in r.stdout,
           "check passes with qemu, kernel, initrd, virtiofsd present (tcg)", r.stdout + r.stderr)

    os.unlink(initrd)
    with open(conf, "a") as f:
        pass
    bad = conf + ".bad"
    with open(bad, "w") as f:
        f.write(f"[hypervisor.qemu]\npath = /nonexistent/qemu\nkernel = {kernel}\ninitrd = {initrd}\naccel = tcg\n"
                f"valid_hypervisor_paths = /nonexistent/qemu\nvirtio_fs_daemon = {vfsd}\n")
    r = kr("check", env={"KATA_CONMON_CONF": bad})
    tap.ok(r.returncode == 1 and re.search(r"FAIL: QEMU binary /nonexistent/qemu", r.stdout) and
           re.search(r"FAIL: guest initrd .* is missing\n\s+fix: .*kata-conmon-build-image", r.stdout),
           "check fails on a missing QEMU and initrd, each with its fix", r.stdout + r.stderr)
    with open(bad, "w") as f:
        f.write("[hypervisor.qemu]\naccel = warp\n")
    r = kr("check", env={"KATA_CONMON_CONF": bad})
    tap.ok(r.returncode == 1 and "accel" in r.stderr, "check reports a configuration that does not load",
           r.stdout + r.stderr)

    r = kr("env", env=env)
    e = json.loads(r.stdout) if r.returncode == 0 else {}
    h = e.get("hypervisor", {})
    tap.ok(h.get("accel") == "tcg" and h.get("kernel") == kernel and h.get("path") == qemu and
           e.get("config", {}).get("path") == conf and e.get("runtime", {}).get("root") == ROOT and
           e.get("runtime", {}).get("vm_run_dir") == RUN, "env prints the effective configuration as JSON", e)
    r = kr("--config", conf, "env")
    tap.ok(r.returncode == 0 and json.loads(r.stdout)["hypervisor"]["kernel"] == kernel,
           "--config FILE selects the configuration", r.stderr)
    r = kr("env", env={"KATA_CONMON_CONF": os.path.join(TMP, "missing.conf")})
    tap.ok(r.returncode == 1 and "missing.conf" in r.stderr, "env with a missing KATA_CONMON_CONF: exit 1", r.stderr)


def t_root_from_config():
    """Without --root, [runtime] runtime_root of kata-conmon.conf is the state directory."""
    p = sleeper()
    write_state("cfgroot", pid=p.pid, start=start_time(p.pid))
    conf = os.path.join(TMP, "root-from-config.conf")
    with open(conf, "w") as f:
        f.write(f"[runtime]\nruntime_root={ROOT}\n")
    r = kr("state", "cfgroot", root=None, env={"KATA_CONMON_CONF": conf})
    tap.eq(r.returncode, 0, "no --root: state finds the container under the configured runtime_root", r.stderr)
    other = os.path.join(TMP, "empty-root")
    os.makedirs(other, exist_ok=True)
    r = kr("state", "cfgroot", root=other, env={"KATA_CONMON_CONF": conf})
    tap.ok(r.returncode != 0 and NOT_FOUND.search(r.stderr), "--root wins over the configured runtime_root",
           r.stderr)
    p.kill()


def main():
    if not K or not os.access(K, os.X_OK):
        tap.fail_prereq(f"KC_RUNTIME={K!r} is not an executable (kata-runtime not built?)")
        return tap.finish()
    os.environ["KATA_CONMON_VM_RUN_DIR"] = RUN
    try:
        for t in (t_version, t_features, t_usage_errors, t_not_found, t_log_formats, t_state_liveness, t_with_mux,
                  t_delete_sandbox, t_check_env, t_root_from_config):
            with tap.case(t.__name__):
                t()
    finally:
        for m in reversed(mounts):
            if os.path.ismount(m):
                subprocess.run(["umount", "-l", m])
        for p in children:
            if p.poll() is None:
                p.kill()
            p.wait()
        subprocess.run(["rm", "-rf", "--one-file-system", TMP])
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
