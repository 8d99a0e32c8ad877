#!/usr/bin/env python3
"""Pod start benchmark: sandbox create (kata-conmon, VM engine) to the first container output, against the raw
boot of the same kernel and initrd (QEMU start to kata-agent's hello, same QEMU command line and virtiofsd).
Prints a markdown table. Needs a build dir with kata-conmon (+ its sibling kata-conmon-vm), kata-runtime, kata-agent,
kc-vm-argv and the image builder.

Usage: bench/pod-start.py [--build-dir build] [-n 1] [--memory 512] [--accel tcg|kvm] [--trace]

--trace: one more pod, with the agent's and the monitor's debug lines in a private journald, printed as
a timeline (seconds from sandbox create): every agent request and crun call with its duration.
"""
import argparse
import glob
import os
import select
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "integration", "vm"))
os.environ.setdefault("KC_SOURCE_DIR", TOP)
import kccrio  # noqa: E402
import kcjournald  # noqa: E402
import kcoci  # noqa: E402
import kcvm  # noqa: E402


def listening(path):
    """True once a unix socket bound at path is listening (/proc/net/unix flag __SO_ACCEPTCON)."""
    with open("/proc/net/unix") as f:
        return any(ln.split()[-1] == path and ln.split()[3] == "00010000" for ln in f if len(ln.split()) >= 8)


def start_virtiofsd(old, sock, shared):
    if old and old.poll() is None:
        old.kill()
    if old:
        old.wait()
    if os.path.exists(sock):
        os.unlink(sock)
    p = subprocess.Popen(["/usr/lib/qemu/virtiofsd", f"--socket-path={sock}", "-o", f"source={shared}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not kcoci.wait_for(lambda: listening(sock), 10):
        raise RuntimeError("virtiofsd did not start listening")
    return p


def raw_boot(argv_tool, conf, vfs_sock, sandbox_id, accel, timeout=180):
    """QEMU start → the agent's hello frame, in seconds."""
    agent_host, agent_qemu = socket.socketpair()
    console_host, console_qemu = socket.socketpair()
    argv = subprocess.run([argv_tool, "--config", conf, "--sandbox-id", sandbox_id, "--accel", accel,
                           "--agent-fd", str(agent_qemu.fileno()), "--console-fd", str(console_qemu.fileno()),
                           "--virtiofs-socket", vfs_sock],
                          capture_output=True, text=True, check=True).stdout.split("\n")[:-1]
    # The VM engine adds this for vhost-user on microvm (see kata-conmon/vm/vm-sandbox.c).
    if "virtio-mmio.force-legacy=false" not in argv:
        argv[1:1] = ["-global", "virtio-mmio.force-legacy=false"]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, pass_fds=[agent_qemu.fileno(), console_qemu.fileno()],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    agent_qemu.close()
    console_qemu.close()
    agent, elapsed = b"", None
    try:
        while time.monotonic() - t0 < timeout and elapsed is None:
            r, _, _ = select.select([agent_host, console_host], [], [], 0.05)
            for s in r:
                d = s.recv(65536)
                if s is agent_host:
                    agent += d
            if len(agent) >= 12:
                length = struct.unpack(">HBBII", agent[:12])[4]
                if len(agent) >= 12 + length:
                    elapsed = time.monotonic() - t0
            if proc.poll() is not None:
                break
    finally:
        proc.kill()
        err = proc.communicate()[1]
        if elapsed is None:
            sys.stderr.write("raw boot: QEMU said: " + err.decode(errors="replace")[-2000:] + "\n")
        agent_host.close()
        console_host.close()
    return elapsed


PHASES = []  # (create, kata-runtime start, start → output) per run


def descendants(root):
    """root and every process below it (from /proc/*/stat ppid)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    t = f.read()
                parent[int(d)] = int(t[t.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += [c for c, pp in parent.items() if pp == p]
    return out


def rollup(pid):
    """(comm, Pss kB, Rss kB) of one process."""
    vals = {"Pss:": 0, "Rss:": 0}
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for ln in f:
                k = ln.split()
                if k and k[0] in vals:
                    vals[k[0]] = int(k[1])
    except OSError:
        return None
    return comm, vals["Pss:"], vals["Rss:"]


def footprint(h, kr, menv, cid):
    """Host memory of an idle one-container pod: Pss of the monitor, QEMU, virtiofsd, stand-ins."""
    c = h.create(cid, ["sh", "-c", "echo ready; exec sleep 120"], env=menv, timeout=180)
    if not c.pid or c.pid <= 0:
        raise RuntimeError(f"sandbox create failed: {c.sync} {c.parent_err!r}")
    kr.run("start", cid)
    try:
        if not kcoci.wait_for(lambda: "ready" in (c.log_text() or ""), 120, interval=0.05):
            raise RuntimeError("no container output")
        time.sleep(1)
        rows = [r for r in (rollup(p) for p in descendants(c.read_monitor_pid())) if r]
    finally:
        kr.run("kill", cid, "KILL", check=False)
        c.wait_exit(60)
        kr.run("delete", "--force", cid, check=False)
    return rows


def pod_start(h, kr, menv, cid, extra=()):
    """kata-conmon create (sandbox role) + kata-runtime start → first output line in the container log."""
    t0 = time.monotonic()
    c = h.create(cid, ["echo", "first-output"], env=menv, timeout=180, extra=extra)
    if not c.pid or c.pid <= 0:
        raise RuntimeError(f"sandbox create failed: {c.sync} {c.parent_err!r}")
    t1 = time.monotonic()
    kr.run("start", cid)
    t2 = time.monotonic()
    if not kcoci.wait_for(lambda: "first-output" in (c.log_text() or ""), 120, interval=0.005):
        raise RuntimeError("no container output")
    elapsed = time.monotonic() - t0
    PHASES.append((t1 - t0, t2 - t1, t0 + elapsed - t2))
    c.wait_exit(60)
    kr.run("delete", "--force", cid, check=False)
    return elapsed


def trace(tmp, conf, h, kr, menv):
    """One more pod with debug diagnostics in a private journald; prints its timeline."""
    j = kcjournald.Journald(tmp).start()
    try:
        tconf = os.path.join(tmp, "kc-trace.conf")
        with open(conf) as f, open(tconf, "w") as g:
            g.write(f.read() + "[agent.kata]\nenable_debug=true\n")
        t0 = time.time()
        el = pod_start(h, kr, dict(menv, KATA_CONMON_CONF=tconf), "benchtrace", extra=("--log-level", "debug"))
        time.sleep(0.5)
        print(f"\nTimeline of one pod start ({el:.2f} s; seconds from sandbox create, guest lines with the "
              "guest's uptime):\n")
        for ent in j.query():
            t = int(ent["__REALTIME_TIMESTAMP"]) / 1e6 - t0
            msg = ent.get("MESSAGE", "")
            if t < 0 or not isinstance(msg, str) or ent.get("SYSLOG_IDENTIFIER") not in ("kata-conmon", "kata-guest"):
                continue
            print(f"  {t:7.3f}  {ent['SYSLOG_IDENTIFIER']:<11} {msg[:150]}")
    finally:
        j.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(TOP, "build"))
    ap.add_argument("-n", type=int, default=1)
    ap.add_argument("--memory", type=int, default=512)
    ap.add_argument("--trace", action="store_true", help="also print one pod's start timeline")
    ap.add_argument("--accel", choices=("tcg", "kvm"), default="tcg", help="for both the raw boot and the pod")
    a = ap.parse_args()
    if a.trace:
        kcjournald.reexec_in_mount_ns()
    b = os.path.abspath(a.build_dir)
    e = {"KC_CONMON_VM": f"{b}/kata-conmon/kata-conmon", "KC_RUNTIME": f"{b}/runtime/cli/kata-runtime",
         "KC_AGENT": f"{b}/runtime/agent/kata-agent", "KC_BUILD_IMAGE": f"{b}/runtime/guest/kata-conmon-build-image"}
    os.environ.update(e)
    e = kcvm.env()
    argv_tool = kcoci.require_exe(f"{b}/runtime/lib/vm/kc-vm-argv", "kc-vm-argv")
    kcoci.become_subreaper()
    tmp = tempfile.mkdtemp(prefix="kc-bench-pod-", dir="/tmp")
    vfsd = None
    try:
        kernel, initrd = kcvm.build_image(e, os.path.join(tmp, "img"))
        conf = kcvm.write_conf(os.path.join(tmp, "kc.conf"), kernel, initrd)
        if a.accel != "tcg":
            with open(conf) as f:
                text = f.read().replace("accel=tcg\n", f"accel={a.accel}\n")
            with open(conf, "w") as f:
                f.write(text)
        with open(conf, "a") as f:
            f.write(f"default_memory={a.memory}\n")
        shared = os.path.join(tmp, "shared")
        os.makedirs(shared)
        vfs_sock = os.path.join(tmp, "vfs.sock")
        vmdir = os.path.join(tmp, "vm")
        menv = {"KATA_CONMON_CONF": conf, "KATA_CONMON_VM_RUN_DIR": vmdir}
        kr = kcvm.KataRuntime(e["KC_RUNTIME"], os.path.join(tmp, "root"), dict(os.environ, **menv))
        rootfs = kcoci.make_rootfs(os.path.join(tmp, "rootfs"))
        h = kccrio.Harness(e["KC_CONMON_VM"], tmp, rootfs, kr)
        raw, pod = [], []
        for i in range(a.n):
            # The C virtiofsd serves one connection: a fresh one per raw boot, listening before QEMU.
            vfsd = start_virtiofsd(vfsd, vfs_sock, shared)
            t = raw_boot(argv_tool, conf, vfs_sock, f"bench-raw-{i}", a.accel)
            if t is None:
                raise RuntimeError("raw boot did not reach the agent's hello")
            raw.append(t)
            pod.append(pod_start(h, kr, menv, f"benchpod{i}"))
        foot = footprint(h, kr, menv, "benchfoot")
        mr, mp = statistics.median(raw), statistics.median(pod)
        print(f"Pod start under {a.accel.upper()}, {a.n} run(s), {a.memory} MiB, medians (seconds):\n")
        print("| measurement | seconds | ratio |")
        print("|---|---:|---:|")
        print(f"| raw boot: QEMU start → kata-agent hello | {mr:.2f} | 1.00 |")
        print(f"| pod start: sandbox create → first container output | {mp:.2f} | {mp / mr:.2f} |")
        for name, i in (("  of which: create (boot, agent hello, create-sandbox, create-container) → pid", 0),
                        ("  of which: kata-runtime start", 1), ("  of which: start returned → first output in the log", 2)):
            print(f"| {name} | {statistics.median(x[i] for x in PHASES):.2f} | |")
        print(f"\nHost memory of an idle one-container pod ({a.memory} MiB guest), per process:\n")
        print("| process | Pss kB | Rss kB |")
        print("|---|---:|---:|")
        for comm, pss, rss in foot:
            print(f"| {comm} | {pss} | {rss} |")
        print(f"| **total** | **{sum(x[1] for x in foot)}** | {sum(x[2] for x in foot)} |")
        print(f"\nTarget: pod start ≤ 1.15× the raw boot ({'met' if mp / mr <= 1.15 else 'not met'}).")
        if a.trace:
            trace(tmp, conf, h, kr, menv)
        h.cleanup()
    finally:
        if vfsd and vfsd.poll() is None:
            vfsd.kill()
            vfsd.wait()
        kcoci.reap_all_children()
        for m in reversed(kcvm.mounts_under(tmp)):
            subprocess.run(["umount", "-l", m], capture_output=True)
        subprocess.run(["rm", "-rf", "--one-file-system", tmp], capture_output=True)
        # Debian's virtiofsd leaves /run/virtiofsd/<socket path with / as .>.pid behind when killed.
        for f in glob.glob("/run/virtiofsd/" + glob.escape(tmp.replace("/", ".")) + "*.pid"):
            os.unlink(f)


if __name__ == "__main__":
    main()
