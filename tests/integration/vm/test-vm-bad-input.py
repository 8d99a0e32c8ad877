#!/usr/bin/env python3
"""Bad input to the VM engine: a clear error on the sync pipe and nothing left behind."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kcvm  # noqa: E402
import kccrio  # noqa: E402
import kcoci  # noqa: E402
from kctap import Tap  # noqa: E402


def main():
    tap = Tap()

    def body(e, tmp, pod):
        kernel, initrd = kcvm.build_image(e, os.path.join(tmp, "img"))
        vmdir = os.path.join(tmp, "vm")
        rootfs = kcoci.make_rootfs(os.path.join(tmp, "rootfs"))
        kr = kcvm.KataRuntime(e["KC_RUNTIME"], os.path.join(tmp, "root"), dict(os.environ))
        pod.h = kccrio.Harness(e["KC_CONMON_VM"], tmp, rootfs, kr)
        cases(tap, pod.h, e, tmp, vmdir, kernel, initrd, kr)
        no_sibling(tap, e, tmp)
    kcvm.run_test(tap, "kc-vm-bad-", body)


def no_sibling(tap, e, tmp):
    """kata-conmon execs kata-conmon-vm from its own directory: without it, a clear error, exit 1."""
    lone = os.path.join(tmp, "lone")
    os.makedirs(lone)
    exe = os.path.join(lone, "kata-conmon")
    with open(e["KC_CONMON_VM"], "rb") as src, open(exe, "wb") as dst:
        dst.write(src.read())
    os.chmod(exe, 0o755)
    r = subprocess.run([exe, "-c", "lonely-container-0", "-u", "lonely-container-0", "-r", e["KC_RUNTIME"],
                        "-b", tmp, "-l", os.path.join(tmp, "lone.log"), "--exit-dir", tmp],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    tap.eq(r.returncode, 1, "kata-conmon without its sibling kata-conmon-vm exits 1", r.stderr)
    tap.match(r"Failed to run the VM monitor kata-conmon-vm", r.stderr, "... and says which binary is missing")
    tap.ok(not os.path.exists(os.path.join(tmp, "lone.log")), "... before creating anything (no log file)")


def attempt(h, cid, menv, edit=None, annotations=None):
    """Creates a sandbox whose bundle is edited first; returns the Container."""
    orig = kcoci.make_bundle

    def make_bundle(bundle, rootfs, a, **k):
        orig(bundle, rootfs, a, **k)
        if annotations is not None:
            kcvm.add_annotations(bundle, annotations)
        if edit:
            edit(os.path.join(bundle, "config.json"))
    kccrio.kcoci.make_bundle = make_bundle
    try:
        c = h.create(cid, ["true"], env=menv, timeout=60)
    finally:
        kccrio.kcoci.make_bundle = orig
    c.wait_monitor(30)
    return c


def check(tap, c, what, pattern, tmp, vmdir, kr):
    msg = c.msg or {}
    tap.ok(msg.get("pid") == -1, f"{what}: pid -1 on the sync pipe", f"sync={c.sync} stderr={c.parent_err!r}")
    tap.match(pattern, msg.get("message", ""), f"{what}: the message says why")
    tap.eq(kcvm.processes_matching(vmdir), [], f"{what}: no QEMU or virtiofsd left")
    tap.eq(sorted(os.listdir(vmdir)) if os.path.isdir(vmdir) else [], [], f"{what}: no sandbox dir left")
    tap.eq(kcvm.mounts_under(tmp), [], f"{what}: no mounts left")
    tap.eq(sorted(os.listdir(kr.root)), [], f"{what}: no state left")
    tap.ok(c.monitor_status is not None, f"{what}: the monitor exited")


def cases(tap, h, e, tmp, vmdir, kernel, initrd, kr):
    conf = kcvm.write_conf(os.path.join(tmp, "good.conf"), kernel, initrd)
    menv = {"KATA_CONMON_CONF": conf, "KATA_CONMON_VM_RUN_DIR": vmdir, **kcvm.sanitizer_env(tmp)}

    def malformed(path):
        with open(path, "w") as f:
            f.write("{ this is not json")
    c = attempt(h, "bad-json", menv, edit=malformed)
    check(tap, c, "malformed config.json", r"malformed config\.json", tmp, vmdir, kr)

    def no_root(path):
        with open(path) as f:
            spec = json.load(f)
        del spec["root"]
        with open(path, "w") as f:
            json.dump(spec, f)
    c = attempt(h, "bad-root", menv, edit=no_root)
    check(tap, c, "config.json without root", r"root", tmp, vmdir, kr)

    def bad_label(path):
        with open(path) as f:
            spec = json.load(f)
        spec["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0:c1,c2 ; rm -rf /"
        with open(path, "w") as f:
            json.dump(spec, f)
    c = attempt(h, "bad-label", menv, edit=bad_label)
    check(tap, c, "malformed SELinux label", r"invalid SELinux label", tmp, vmdir, kr)

    c = attempt(h, "bad-type", menv, annotations={kcvm.T_TYPE: "podsandbox"})
    check(tap, c, "unknown container type", r"invalid container type", tmp, vmdir, kr)

    c = attempt(h, "bad-ann", menv, annotations={"io.katacontainers.config.hypervisor.path": "/bin/sh"})
    check(tap, c, "disallowed annotation", r"not allowed.*io\.katacontainers\.config\.hypervisor\.path",
          tmp, vmdir, kr)

    c = attempt(h, "bad-member", menv, annotations={kcvm.T_TYPE: "container", kcvm.T_SANDBOX: "no-such-pod"})
    check(tap, c, "container of a missing sandbox", r"sandbox no-such-pod not found.*container not running",
          tmp, vmdir, kr)

    nok = kcvm.write_conf(os.path.join(tmp, "nokernel.conf"), os.path.join(tmp, "missing-vmlinux"), initrd)
    c = attempt(h, "no-kernel", dict(menv, KATA_CONMON_CONF=nok))
    check(tap, c, "missing kernel", r"guest kernel .*missing-vmlinux", tmp, vmdir, kr)

    noi = kcvm.write_conf(os.path.join(tmp, "noinitrd.conf"), kernel, os.path.join(tmp, "missing-initrd"))
    c = attempt(h, "no-initrd", dict(menv, KATA_CONMON_CONF=noi))
    check(tap, c, "missing initrd", r"guest initrd .*missing-initrd", tmp, vmdir, kr)

    # A QEMU that cannot start: an option it rejects (kernel_params cannot do that; memory can).
    badq = kcvm.write_conf(os.path.join(tmp, "badqemu.conf"), kernel, initrd, "path=/bin/false\n"
                           "valid_hypervisor_paths=/bin/false\n")
    c = attempt(h, "bad-qemu", dict(menv, KATA_CONMON_CONF=badq))
    check(tap, c, "QEMU that fails to start", r"VM of sandbox bad-qemu stopped during start-up", tmp, vmdir, kr)

    # A QEMU whose KVM cannot run the guest: it reports a KVM internal error and then just sits
    # there (the guest is stopped). The monitor must give up at once, not after vm_start_timeout.
    stuck = os.path.join(tmp, "stuck-qemu")
    with open(stuck, "w") as f:
        f.write("#!/bin/sh\necho 'KVM internal error. Suberror: 1' >&2\necho 'emulation failure' >&2\n"
                "exec sleep 120\n")
    os.chmod(stuck, 0o755)
    stuckc = kcvm.write_conf(os.path.join(tmp, "stuck.conf"), kernel, initrd,
                             f"path={stuck}\nvalid_hypervisor_paths={stuck}\n")
    t0 = time.monotonic()
    c = attempt(h, "kvm-error", dict(menv, KATA_CONMON_CONF=stuckc))
    took = time.monotonic() - t0
    check(tap, c, "QEMU stopped by a KVM internal error", r"KVM internal error", tmp, vmdir, kr)
    tap.ok(took < 20, "QEMU stopped by a KVM internal error: the create fails at once, not at the timeout",
           f"{took:.1f} s")

    with open(os.path.join(tmp, "broken.conf"), "w") as f:
        f.write("[hypervisor.qemu]\naccel=warp-drive\n")
    c = attempt(h, "bad-conf", dict(menv, KATA_CONMON_CONF=os.path.join(tmp, "broken.conf")))
    check(tap, c, "invalid kata-conmon.conf", r"configuration", tmp, vmdir, kr)
    tap.eq(kcvm.sanitizer_reports(tmp), [], "no sanitizer reports from the monitors")


if __name__ == "__main__":
    main()
