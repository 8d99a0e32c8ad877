#!/usr/bin/env python3
"""A CRI-O-shaped pod of two containers in one VM: kata-conmon (VM engine) + kata-runtime, CRI-O's argv and order."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kcvm  # noqa: E402
import kccrio  # noqa: E402
import kcoci  # noqa: E402
from kctap import Tap  # noqa: E402

TRAP_143 = "trap 'exit 143' TERM; echo hello-{n}; while true; do sleep 1; done"


def main():
    tap = Tap()

    def body(e, tmp, pod):
        pod.h, kr, menv, vmdir = kcvm.pod_setup(e, tmp)
        run(tap, pod.h, kr, menv, vmdir, tmp)
    kcvm.run_test(tap, "kc-vm-crio-", body)


create = kcvm.create


def run(tap, h, kr, menv, vmdir, tmp):
    sid = "pod-" + os.urandom(4).hex()
    sandbox = {kcvm.T_TYPE: "sandbox", kcvm.T_SANDBOX: sid}
    member = {kcvm.T_TYPE: "container", kcvm.T_SANDBOX: sid}

    # 1. RunPodSandbox: create the infra container (boots the VM), then start it.
    t0 = time.monotonic()
    pod = create(h, sid, ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"], sandbox, menv)
    tap.ok(pod.parent_rc == 0 and pod.pid and pod.pid > 0, "sandbox create reports a pid on the sync pipe",
           f"rc={pod.parent_rc} sync={pod.sync} stderr={pod.parent_err!r}")
    if not pod.pid or pod.pid <= 0:
        return
    tap.diag("sandbox created in %.2f s" % (time.monotonic() - t0))
    tap.eq(kcvm.comm(pod.pid), "qemu-system-x86", "the sandbox pid is QEMU's")
    tap.eq(kccrio.read_text(pod.pidfile),
           str(pod.pid), "the pidfile holds QEMU's pid")
    sdir = os.path.join(vmdir, sid)
    tap.ok(os.path.exists(os.path.join(sdir, "mux.sock")), "the sandbox serves S/mux.sock")
    tap.eq(oct(os.stat(os.path.join(sdir, "mux.sock")).st_mode & 0o777), "0o600", "mux.sock is 0600")
    r = kr.run("start", sid, check=False)
    tap.eq(r.returncode, 0, f"kata-runtime start {sid}")

    # 2. CreateContainer + StartContainer, twice.
    web = create(h, "web", ["sh", "-c", TRAP_143.format(n="web")], member, menv)
    tap.ok(web.pid and web.pid > 0, "container web: pid on the sync pipe", f"sync={web.sync} err={web.parent_err!r}")
    db = create(h, "db", ["sh", "-c", "echo hello-db; while true; do sleep 1; done"], member, menv)
    tap.ok(db.pid and db.pid > 0, "container db: pid on the sync pipe", f"sync={db.sync}")
    if not (web.pid and web.pid > 0 and db.pid and db.pid > 0):
        return
    tap.eq(kcvm.comm(web.pid), "kc-standin", "the container pid is a stand-in on the host")
    with open(f"/proc/{web.pid}/status") as f:
        seccomp = [ln.split()[1] for ln in f if ln.startswith("Seccomp:")]
    tap.eq(seccomp, ["2"], "the stand-in runs under its seccomp filter")
    for c in (web, db):
        tap.eq(kr.run("start", c.cid, check=False).returncode, 0, f"kata-runtime start {c.cid}")
    kcoci.wait_for(lambda: "hello-web" in (web.log_text() or "") and "hello-db" in (db.log_text() or ""), 20)
    tap.match(r"stdout F hello-web$", web.log_text(), "web's guest output is in its k8s-file log")
    tap.match(r"stdout F hello-db$", db.log_text(), "db's guest output is in its k8s-file log")
    qemus = kcvm.processes_matching(f"sandbox-{sid}")
    qemus = [p for p in qemus if kcvm.comm(p[0]) == "qemu-system-x86"]
    tap.eq(len(qemus), 1, "one QEMU for the pod")

    # 3. Liveness the way CRI-O checks it: kill(pid, 0) + start time, and kata-runtime state.
    st0 = kcvm.start_time(web.pid)
    tap.ok(kcoci.pid_alive(web.pid) and st0 is not None, "the stand-in is alive while the guest process runs")
    r = kr.run("state", "web", check=False)
    tap.match(r'"status" : "running"', r.stdout, "kata-runtime state web: running")
    tap.match(rf'"pid" : {web.pid}\b', r.stdout, "kata-runtime state web: the stand-in pid")

    # 4. ExecSync through the monitor (-e), exit code and output.
    x = h.exec_sync(web, ["sh", "-c", "echo out-of-exec; uname -r; exit 3"], timeout=60)
    tap.eq(x["msgs"][-1:], [{"exit_code": 3}], "exec-sync reports the guest exit code")
    tap.match(r"stdout F out-of-exec$", x["log"], "exec-sync output is in its log")
    guest_kernel = None
    for line in (x["log"] or "").splitlines():
        if line.endswith(os.uname().release) or "amd64" in line:
            guest_kernel = line.split(" ", 3)[-1]
    tap.ok(guest_kernel and guest_kernel != os.uname().release, "exec-sync runs in the guest kernel",
           f"log={x['log']!r} host={os.uname().release}")
    x = h.exec_sync(web, ["sleep", "30"], timeout_s=2, timeout=60)
    tap.ok(x["msgs"] and x["msgs"][-1].get("exit_code") == -1, "exec-sync -T kills a slow probe", x)
    time.sleep(0.5)
    x = h.exec_sync(web, ["sh", "-c", "ps -o args | grep -c '^sleep 3[0]' || true"], timeout=60)
    tap.match(r"stdout F 0$", x["log"], "the timed-out process is gone from the guest")

    # 4b. OOM: a container over its memory limit is killed; the oom file appears in its bundle.
    def limit_memory(spec):
        spec.setdefault("linux", {}).setdefault("resources", {})["memory"] = {"limit": 16 * 1024 * 1024}
    hog = create(h, "hog", ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
                 member, menv, edit=limit_memory)
    if tap.ok(hog.pid and hog.pid > 0, "container hog created", hog.sync):
        kr.run("start", "hog", check=False)
        tap.eq(hog.wait_exit(60), "137", "the OOM-killed container's status is 137")
        # The agent checks memory.events when the container's init exits, before the exit event.
        tap.ok(os.path.exists(os.path.join(hog.bundle, "oom")), "an oom file in its bundle (CRI-O reads it)")
        tap.ok(os.path.exists(os.path.join(hog.persist, "oom")), "and in its persist dir")
        kr.run("delete", "hog", check=False)

    # 4c. Like CRI-O, a member joins the infra container's IPC and UTS namespaces (paths in its spec,
    # which name host namespaces): in the guest it joins the sandbox container's.
    def join_pod_namespaces(spec):
        for n in spec["linux"]["namespaces"]:
            if n["type"] in ("ipc", "uts"):
                n["path"] = f"/proc/1/ns/{n['type']}"
    show_ns = ["sh", "-c", "echo ns $(readlink /proc/self/ns/ipc) $(readlink /proc/self/ns/uts) "
               "$(readlink /proc/self/ns/mnt)"]
    nsj = create(h, "nsjoin", show_ns, member, menv, edit=join_pod_namespaces)
    if tap.ok(nsj.pid and nsj.pid > 0, "container nsjoin (ipc and uts paths, as CRI-O writes) created",
              f"sync={nsj.sync} err={nsj.parent_err!r}"):
        kr.run("start", "nsjoin", check=False)
        nsj.wait_exit(60)
        mine = re.findall(r"stdout F ns (.*)$", nsj.log_text() or "", re.M)
        x = h.exec_sync(pod, show_ns, timeout=60)
        pods = re.findall(r"stdout F ns (.*)$", x["log"] or "", re.M)
        ok = mine and pods and mine[0].split()[:2] == pods[0].split()[:2] and mine[0].split()[2] != pods[0].split()[2]
        tap.ok(ok, "its ipc and uts namespaces are the sandbox container's, its mount namespace its own",
               f"member={mine} sandbox={pods}")
        kr.run("delete", "nsjoin", check=False)

    # 5. StopContainer web: kill <id> 15, exit file, stand-in gone; then delete.
    tap.eq(kr.run("kill", "web", "15", check=False).returncode, 0, "kata-runtime kill web 15")
    tap.eq(web.wait_exit(30), "143", "web's exit file holds the guest status (143)")
    tap.eq(kccrio.read_text(web.persist_exit),
           "143", "persist-dir exit file too")
    tap.ok(not kcoci.pid_alive(web.pid) or kcvm.start_time(web.pid) != st0, "the stand-in is gone with the guest process")
    tap.ok(web.monitor_status is not None, "web's monitor exited after the exit files", web.monitor_status)
    tap.match('"status" : "stopped"', kr.run("state", "web", check=False).stdout, "kata-runtime state web: stopped")
    tap.eq(kr.run("delete", "web", check=False).returncode, 0, "kata-runtime delete web")
    tap.ok(not os.path.exists(os.path.join(vmdir, sid, "shared", "web")), "web's rootfs left the shared dir")
    r = kr.run("state", "web", check=False)
    tap.ok(r.returncode != 0 and any(p in r.stderr for p in ("not running", "no such process",
                                                              "does not exist", "not found")),
           "state of a deleted container: an error CRI-O maps to not-found", r.stderr)

    # 6. SIGKILL straight to db's stand-in: the guest process follows, status 137.
    os.kill(db.pid, signal.SIGKILL)
    tap.eq(db.wait_exit(30), "137", "killing the stand-in kills the guest process (exit 137)")
    tap.eq(kr.run("delete", "db", check=False).returncode, 0, "kata-runtime delete db")

    # 7. StopPodSandbox + RemovePodSandbox.
    tap.eq(kr.run("kill", sid, "15", check=False).returncode, 0, "kata-runtime kill <sandbox> 15")
    tap.eq(pod.wait_exit(30), "0", "the sandbox's exit file holds the infra process's status")
    tap.ok(not kcoci.pid_alive(pod.pid), "QEMU is gone when the sandbox stopped")
    tap.eq(kr.run("delete", sid, check=False).returncode, 0, "kata-runtime delete <sandbox>")

    # 8. Nothing left behind.
    time.sleep(0.2)
    tap.eq(kcvm.processes_matching(vmdir), [], "no QEMU or virtiofsd left")
    tap.eq([p for p in kcvm.processes_matching(tmp) if kcvm.comm(p[0]) == "kc-standin"], [], "no stand-in left")
    tap.eq(kcvm.mounts_under(tmp), [], "no mounts left")
    tap.eq(sorted(os.listdir(vmdir)) if os.path.isdir(vmdir) else [], [], "no sandbox dir left")
    tap.eq(sorted(os.listdir(kr.root)), [], "no state left under the runtime root")
    crash(tap, h, kr, menv, vmdir, tmp)
    tap.eq(kcvm.sanitizer_reports(tmp), [], "no sanitizer reports from the monitors")


def crash(tap, h, kr, menv, vmdir, tmp):
    """A VM that dies (QEMU SIGKILLed): its containers' stand-ins exit, statuses are 137, nothing is left."""
    sid = "crash-" + os.urandom(4).hex()
    pod = create(h, sid, ["sh", "-c", "while true; do sleep 1; done"], {kcvm.T_TYPE: "sandbox", kcvm.T_SANDBOX: sid},
                 menv)
    if not tap.ok(pod.pid and pod.pid > 0, "second pod created", pod.sync):
        return
    kr.run("start", sid, check=False)
    c = create(h, "victim", ["sh", "-c", "while true; do sleep 1; done"],
               {kcvm.T_TYPE: "container", kcvm.T_SANDBOX: sid}, menv)
    if not tap.ok(c.pid and c.pid > 0, "container in the second pod created", c.sync):
        return
    kr.run("start", "victim", check=False)
    os.kill(pod.pid, signal.SIGKILL)
    tap.eq(c.wait_exit(30), "137", "QEMU killed: the container's exit file says 137")
    tap.ok(not kcoci.pid_alive(c.pid), "and its stand-in is gone")
    tap.eq(pod.wait_exit(30), "137", "the sandbox's exit file says 137")
    tap.match('"status" : "stopped"', kr.run("state", sid, check=False).stdout, "kata-runtime state: stopped")
    for cid in ("victim", sid):
        tap.eq(kr.run("delete", cid, check=False).returncode, 0, f"kata-runtime delete {cid} after the crash")
    time.sleep(0.2)
    tap.eq(kcvm.processes_matching(vmdir), [], "after the crash: no QEMU or virtiofsd left")
    tap.eq(kcvm.mounts_under(tmp), [], "after the crash: no mounts left")
    tap.eq(sorted(os.listdir(vmdir)), [], "after the crash: no sandbox dir left")
    tap.eq(sorted(os.listdir(kr.root)), [], "after the crash: no state left")


if __name__ == "__main__":
    main()
