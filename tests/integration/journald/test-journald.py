#!/usr/bin/env python3
"""journald fields of a pod's story in a private systemd-journald: the local engine's failed create,
a VM pod (guest console under kata-guest, the monitors with KATA_SANDBOX_ID and KATA_VM_PID, a
kata-runtime call), a VM that cannot boot and a virtiofsd that refuses to start.
KC_JOURNALD_CAPTURE=<file> saves the journalctl output (for docs/debugging.md)."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("KC_SOURCE_DIR", "."), "tests", "lib"))
sys.path.insert(0, os.path.join(os.environ.get("KC_SOURCE_DIR", "."), "tests", "integration", "vm"))
import kccrio  # noqa: E402
import kcjournald  # noqa: E402
import kcoci  # noqa: E402
import kcvm  # noqa: E402
from kctap import Tap  # noqa: E402

IDLE = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]


class Capture:
    """journalctl output (as an operator would type it) for docs/debugging.md."""

    def __init__(self, j):
        self.j = j
        self.path = os.environ.get("KC_JOURNALD_CAPTURE", "")
        if self.path:
            open(self.path, "w").close()

    def run(self, *args):
        r = subprocess.run(["journalctl", "-D", self.j.dir, "--no-pager", *args], capture_output=True, text=True)
        if self.path:
            with open(self.path, "a") as f:
                f.write("$ journalctl " + " ".join(args) + "\n" + r.stdout + "\n")
        return r.stdout

    def cmd(self, argv, shown):
        """Any other command's output, shown as `shown`."""
        if self.path:
            r = subprocess.run(argv, capture_output=True, text=True)
            with open(self.path, "a") as f:
                f.write(f"$ {shown}\n{r.stdout}{r.stderr}\n")


def create(h, cid, args, annotations, menv, timeout=120):
    """h.create with a bundle carrying CRI-O's annotations."""
    orig = kcoci.make_bundle

    def make_bundle(bundle, rootfs, a, **k):
        orig(bundle, rootfs, a, **k)
        if annotations:
            kcvm.add_annotations(bundle, annotations)
    kccrio.kcoci.make_bundle = make_bundle
    try:
        return h.create(cid, args, env=menv, timeout=timeout)
    finally:
        kccrio.kcoci.make_bundle = orig


def sync(j):
    subprocess.run(["journalctl", "-D", j.dir, "--sync"], capture_output=True)


def local_failed_create(tap, j, cap, e, tmp):
    """The local engine (runc): a create whose runtime fails logs with kata-conmon + CONTAINER_ID_FULL."""
    runc = kcoci.Runc(os.path.join(tmp, "runc-root"))
    base = os.path.join(tmp, "local")
    os.makedirs(base)
    h = kccrio.Harness(e["KC_CONMON_VM"], base, kcoci.make_rootfs(os.path.join(tmp, "rootfs-local")), runc)
    try:
        cid = "bad-" + os.urandom(4).hex()
        c = h.create(cid, ["/no/such/binary"], env={"KATA_CONMON_ENGINE": "local"})
        tap.ok(c.pid is None or c.pid < 0, "local engine: create of a missing binary fails on the sync pipe",
               f"sync={c.sync} rc={c.parent_rc}")
        sync(j)
        ents = j.wait_entries(1, "SYSLOG_IDENTIFIER=kata-conmon", f"CONTAINER_ID_FULL={cid}", "PRIORITY=3")
        every = [x.get("MESSAGE", "") for x in j.query(f"CONTAINER_ID_FULL={cid}")]
        tap.ok(any("Failed to create container" in x.get("MESSAGE", "") for x in ents),
               "local engine: the failed create is an error in journald as kata-conmon with CONTAINER_ID_FULL",
               every)
        tap.ok(any("runtime stderr" in m and "/no/such/binary" in m for m in every),
               "local engine: the runtime's own error text is there too", every)
        tap.ok(all(x.get("SYSLOG_IDENTIFIER") == "kata-conmon" for x in j.query(f"CONTAINER_ID_FULL={cid}")),
               "local engine: every entry of the container is a kata-conmon one")
        tap.ok(all(x.get("_PID") and x.get("CODE_FILE") for x in ents), "local engine: entries carry _PID and CODE_FILE")
        cap.run("-t", "kata-conmon", f"CONTAINER_ID_FULL={cid}", "-o", "short-iso")
    finally:
        h.cleanup()


def vm_pod(tap, j, cap, e, tmp, kernel, initrd):
    conf = kcvm.write_conf(os.path.join(tmp, "kata-conmon.conf"), kernel, initrd)
    vmdir = os.path.join(tmp, "vm")
    menv = {"KATA_CONMON_CONF": conf, "KATA_CONMON_VM_RUN_DIR": vmdir, **kcvm.sanitizer_env(tmp)}
    kr = kcvm.KataRuntime(e["KC_RUNTIME"], os.path.join(tmp, "root"), dict(os.environ, **menv))
    h = kccrio.Harness(e["KC_CONMON_VM"], os.path.join(tmp, "pod"), kcoci.make_rootfs(os.path.join(tmp, "rootfs")), kr)
    sid = "pod-" + os.urandom(4).hex()
    try:
        pod = create(h, sid, IDLE, {kcvm.T_TYPE: "sandbox", kcvm.T_SANDBOX: sid}, menv)
        if not tap.ok(pod.pid and pod.pid > 0, "VM pod: sandbox created", f"sync={pod.sync} err={pod.parent_err!r}"):
            return
        tap.eq(kr.run("start", sid, check=False).returncode, 0, "VM pod: kata-runtime start of the sandbox")
        web = create(h, "web", ["sh", "-c", "echo hello-web; while true; do sleep 1; done"],
                     {kcvm.T_TYPE: "container", kcvm.T_SANDBOX: sid}, menv)
        tap.ok(web.pid and web.pid > 0, "VM pod: container web created", f"sync={web.sync}")
        r = kr.run("--debug", "start", "web", check=False)
        tap.eq(r.returncode, 0, "VM pod: kata-runtime --debug start web", r.stderr)
        sync(j)

        guest = j.wait_entries(5, "SYSLOG_IDENTIFIER=kata-guest", f"KATA_SANDBOX_ID={sid}")
        msgs = [x.get("MESSAGE", "") for x in guest]
        tap.ok(len(guest) >= 5, "guest console lines are logged as kata-guest with KATA_SANDBOX_ID", msgs[:10])
        tap.ok(any(re.match(r"\[\s*\d+\.\d+\] ", m) for m in msgs), "the guest kernel's lines are among them",
               msgs[:10])
        agent = [x for x in guest if x.get("MESSAGE", "").startswith("[kata-agent:i]: ")]
        tap.ok(agent and all(x.get("PRIORITY") == "6" for x in agent),
               "the guest agent's console lines are among them, at their own level (info)", msgs[-20:])
        tap.ok(not any(m.startswith("guest:") for m in msgs), "guest lines carry no 'guest:' prefix", msgs[:5])
        tap.ok(all(x.get("KATA_VM_PID") == str(pod.pid) for x in guest), "guest lines carry KATA_VM_PID (QEMU's pid)",
               {x.get("KATA_VM_PID") for x in guest})
        prefixed = j.query("SYSLOG_IDENTIFIER=kata-conmon", f"KATA_SANDBOX_ID={sid}")
        tap.ok(not any(x.get("MESSAGE", "").startswith(("guest:", "qemu:", "virtiofsd:")) for x in prefixed),
               "no console line is logged as a kata-conmon message")

        mon = j.wait_entries(1, "SYSLOG_IDENTIFIER=kata-conmon", f"KATA_SANDBOX_ID={sid}", f"CONTAINER_ID_FULL={sid}")
        tap.ok(any("ready" in x.get("MESSAGE", "") for x in mon), "the sandbox monitor logs the agent's hello",
               [x.get("MESSAGE") for x in mon])
        tap.ok(any(x.get("KATA_VM_PID") == str(pod.pid) for x in mon), "the sandbox monitor's lines carry KATA_VM_PID",
               [(x.get("MESSAGE"), x.get("KATA_VM_PID")) for x in mon])
        wmon = j.query("SYSLOG_IDENTIFIER=kata-conmon", f"KATA_SANDBOX_ID={sid}", "CONTAINER_ID_FULL=web")
        tap.ok(len(wmon) >= 1, "the container monitor's lines carry KATA_SANDBOX_ID and its CONTAINER_ID_FULL",
               [x.get("MESSAGE") for x in wmon])
        tap.ok(wmon and all(x.get("KATA_VM_PID") == str(pod.pid) for x in wmon),
               "the container monitor's lines carry the pod's KATA_VM_PID too",
               [(x.get("MESSAGE"), x.get("KATA_VM_PID")) for x in wmon])

        rt = j.query("SYSLOG_IDENTIFIER=kata-runtime", "CONTAINER_ID_FULL=web")
        tap.ok(any("started" in x.get("MESSAGE", "") and x.get("KATA_SANDBOX_ID") == sid for x in rt),
               "kata-runtime's lines carry kata-runtime, CONTAINER_ID_FULL and KATA_SANDBOX_ID",
               [(x.get("MESSAGE"), x.get("KATA_SANDBOX_ID")) for x in rt])

        story = cap.run("-t", "kata-conmon", f"KATA_SANDBOX_ID={sid}", "-o", "short-iso")
        tap.ok(f"Container {sid} created" in story and "Container web created" in story,
               "journalctl -t kata-conmon KATA_SANDBOX_ID=<id> finds both monitors of the pod", story)
        cap.run("-t", "kata-guest", f"KATA_SANDBOX_ID={sid}", "-o", "short-iso", "-n", "12")
        cap.run("-t", "kata-runtime", "CONTAINER_ID_FULL=web", "-o", "short-iso")
        cap.run(f"KATA_SANDBOX_ID={sid}", "-o", "verbose", "-n", "1", "-t", "kata-guest")
        cap.cmd([kr.path, kr.root_arg, "list"], "kata-runtime list")
        cap.cmd([kr.path, kr.root_arg, "state", "web"], "kata-runtime state web")
        cap.cmd(["ls", "-l", os.path.join(vmdir, sid)], "ls -l /run/kata-containers/kata-conmon/<sid>")
        cap.cmd(["ps", "-o", "pid,ppid,comm,args", "--ppid", str(pod.monitor_pid or 0)],
                "ps -o pid,ppid,comm,args --ppid <sandbox monitor pid>")

        # Tear the pod down: TERM the workload; the monitor destroys the VM.
        kr.run("kill", "web", "KILL", check=False)
        web.wait_exit(timeout=30)
        kr.run("kill", sid, "TERM", check=False)
        pod.wait_exit(timeout=60)
        tap.ok(not kcoci.pid_alive(pod.pid), "VM pod: QEMU is gone after the sandbox exits")
    finally:
        h.cleanup()
        kr.cleanup()


def vm_bad_kernel(tap, j, cap, e, tmp, initrd):
    bad = os.path.join(tmp, "not-a-kernel")
    with open(bad, "w") as f:
        f.write("this is not a kernel\n" * 64)
    conf = kcvm.write_conf(os.path.join(tmp, "bad.conf"), bad, initrd)
    vmdir = os.path.join(tmp, "vm-bad")
    menv = {"KATA_CONMON_CONF": conf, "KATA_CONMON_VM_RUN_DIR": vmdir, **kcvm.sanitizer_env(tmp)}
    kr = kcvm.KataRuntime(e["KC_RUNTIME"], os.path.join(tmp, "root-bad"), dict(os.environ, **menv))
    h = kccrio.Harness(e["KC_CONMON_VM"], os.path.join(tmp, "bad"), kcoci.make_rootfs(os.path.join(tmp, "rootfs-bad")),
                       kr)
    sid = "badpod-" + os.urandom(4).hex()
    try:
        pod = create(h, sid, IDLE, {kcvm.T_TYPE: "sandbox", kcvm.T_SANDBOX: sid}, menv)
        tap.ok(pod.pid is None or pod.pid < 0, "bad kernel: the sandbox create fails", f"sync={pod.sync}")
        sync(j)
        errs = j.wait_entries(1, "SYSLOG_IDENTIFIER=kata-conmon", f"KATA_SANDBOX_ID={sid}", "PRIORITY=3")
        tap.ok(any("QEMU" in x.get("MESSAGE", "") or "qemu" in x.get("MESSAGE", "") for x in errs),
               "bad kernel: an error from kata-conmon names QEMU's failure, with KATA_SANDBOX_ID",
               [x.get("MESSAGE") for x in j.query(f"KATA_SANDBOX_ID={sid}")])
        qemu = j.query("SYSLOG_IDENTIFIER=kata-qemu", f"KATA_SANDBOX_ID={sid}")
        tap.ok(len(qemu) >= 1, "bad kernel: QEMU's own stderr is in journald as kata-qemu",
               [x.get("MESSAGE") for x in j.query(f"KATA_SANDBOX_ID={sid}")])
        cap.run(f"KATA_SANDBOX_ID={sid}", "-o", "short-iso")
        cap.run("-t", "kata-conmon", f"KATA_SANDBOX_ID={sid}", "-p", "err", "-o", "cat")
        tap.eq(kcvm.processes_matching(f"sandbox-{sid}"), [], "bad kernel: no QEMU left")
    finally:
        h.cleanup()
        kr.cleanup()


def vm_bad_virtiofsd(tap, j, cap, e, tmp, kernel, initrd):
    """virtiofsd refuses its arguments: its stderr is in journald as kata-virtiofsd."""
    conf = kcvm.write_conf(os.path.join(tmp, "badvfs.conf"), kernel, initrd,
                           "virtio_fs_extra_args=--no-such-virtiofsd-option\n")
    vmdir = os.path.join(tmp, "vm-badvfs")
    menv = {"KATA_CONMON_CONF": conf, "KATA_CONMON_VM_RUN_DIR": vmdir, **kcvm.sanitizer_env(tmp)}
    kr = kcvm.KataRuntime(e["KC_RUNTIME"], os.path.join(tmp, "root-badvfs"), dict(os.environ, **menv))
    h = kccrio.Harness(e["KC_CONMON_VM"], os.path.join(tmp, "badvfs"),
                       kcoci.make_rootfs(os.path.join(tmp, "rootfs-badvfs")), kr)
    sid = "vfspod-" + os.urandom(4).hex()
    try:
        pod = create(h, sid, IDLE, {kcvm.T_TYPE: "sandbox", kcvm.T_SANDBOX: sid}, menv)
        tap.ok(pod.pid is None or pod.pid < 0, "bad virtiofsd option: the sandbox create fails", f"sync={pod.sync}")
        tap.ok("no-such-virtiofsd-option" in str(pod.sync),
               "bad virtiofsd option: the error on the sync pipe carries virtiofsd's complaint", f"sync={pod.sync}")
        sync(j)
        vfs = j.wait_entries(1, "SYSLOG_IDENTIFIER=kata-virtiofsd", f"KATA_SANDBOX_ID={sid}")
        every = [(x.get("SYSLOG_IDENTIFIER"), x.get("MESSAGE")) for x in j.query(f"KATA_SANDBOX_ID={sid}")]
        tap.ok(any("no-such-virtiofsd-option" in x.get("MESSAGE", "") and x.get("PRIORITY") == "4" for x in vfs),
               "bad virtiofsd option: virtiofsd's complaint is in journald as kata-virtiofsd (warning)", every)
        tap.ok(j.query("SYSLOG_IDENTIFIER=kata-conmon", f"KATA_SANDBOX_ID={sid}", "PRIORITY=3"),
               "bad virtiofsd option: kata-conmon logs an error for the sandbox", every)
        cap.run(f"KATA_SANDBOX_ID={sid}", "-o", "short-iso")
        tap.eq(kcvm.processes_matching(f"sandbox-{sid}"), [], "bad virtiofsd option: no QEMU left")
    finally:
        h.cleanup()
        kr.cleanup()


def main():
    tap = Tap()
    kcjournald.reexec_in_mount_ns()
    tmp = None
    j = None
    try:
        e = kcvm.env()
        kcoci.become_subreaper()
        tmp = tempfile.mkdtemp(prefix="kc-journald-", dir="/tmp")
        j = kcjournald.Journald(tmp).start()
        cap = Capture(j)
        local_failed_create(tap, j, cap, e, tmp)
        kernel, initrd = kcvm.build_image(e, os.path.join(tmp, "img"))
        vm_pod(tap, j, cap, e, tmp, kernel, initrd)
        vm_bad_kernel(tap, j, cap, e, tmp, initrd)
        vm_bad_virtiofsd(tap, j, cap, e, tmp, kernel, initrd)
        reports = kcvm.sanitizer_reports(tmp)
        tap.eq(reports, [], "no sanitizer report from the monitors")
    except kcoci.Missing as ex:
        tap.fail_prereq(str(ex))
    except Exception as ex:  # noqa: BLE001
        import traceback
        tap.ok(False, f"harness raised {type(ex).__name__}: {ex}", traceback.format_exc())
    finally:
        kcoci.reap_all_children()
        if j:
            j.stop()
        if tmp:
            for m in reversed(kcvm.mounts_under(tmp)):
                subprocess.run(["umount", "-l", m], capture_output=True)
            subprocess.run(["rm", "-rf", "--one-file-system", tmp], capture_output=True)
    sys.exit(tap.finish())


if __name__ == "__main__":
    main()
