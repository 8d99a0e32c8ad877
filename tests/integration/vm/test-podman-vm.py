#!/usr/bin/env python3
"""podman --runtime kata-runtime --conmon kata-conmon: every container runs in its own QEMU VM (TCG)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kcvm  # noqa: E402
import kcoci  # noqa: E402
import kcjournald  # noqa: E402
import kcpodman  # noqa: E402
from kctap import Tap  # noqa: E402

IMAGE = "localhost/kcvm-busybox:latest"


class Podman:
    def __init__(self, e, tmp, conf, vmdir):
        self.tmp = tmp
        cc = os.path.join(tmp, "containers.conf")
        san = "".join(f', "{k}={v}"' for k, v in kcvm.sanitizer_env(tmp).items())
        with open(cc, "w") as f:
            # netns = "none": podman's default bridge would create cni-podman0 and iptables rules
            # on the machine; pod networking is tested in test-network-vm.py with namespaces
            # the test makes itself.
            f.write('[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\nnetns = "none"\n'
                    '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                    f'conmon_env_vars = ["KATA_CONMON_CONF={conf}", "KATA_CONMON_VM_RUN_DIR={vmdir}"{san}]\n')
        self.env = dict(os.environ, CONTAINERS_CONF=cc, KATA_CONMON_CONF=conf, KATA_CONMON_VM_RUN_DIR=vmdir)
        self.env.pop("CONTAINER_HOST", None)
        self.base = [kcoci.require_exe(shutil.which("podman"), "podman"),
                     "--root", os.path.join(tmp, "storage"), "--runroot", os.path.join(tmp, "runroot"),
                     "--tmpdir", os.path.join(tmp, "ptmp"), "--storage-driver", "vfs",
                     "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                     "--network-config-dir", os.path.join(tmp, "networks"),
                     "--conmon", e["KC_CONMON_VM"], "--runtime", e["KC_RUNTIME"]]

    def run(self, *args, input=None, timeout=120):
        try:
            return subprocess.run(self.base + list(args), capture_output=True, input=input, timeout=timeout,
                                  env=self.env, stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as ex:
            return subprocess.CompletedProcess(ex.cmd, -1, ex.stdout or b"", (ex.stderr or b"") + b" (timeout)")


def host_links():
    return sorted(os.listdir("/sys/class/net"))


def out(r):
    return r.stdout.decode(errors="replace")


def main():
    tap = Tap()
    tmp = p = None
    try:
        # containers/image keeps a cache under /var/lib/containers whatever --root says: hide the
        # machine's behind a tmpfs in a private mount namespace.
        kcjournald.reexec_in_mount_ns()
        kcpodman.hide_machine_storage()
        e = kcvm.env()
        kcoci.become_subreaper()
        tmp = tempfile.mkdtemp(prefix="kc-vm-podman-", dir="/tmp")
        kernel, initrd = kcvm.build_image(e, os.path.join(tmp, "img"))
        vmdir = os.path.join(tmp, "vm")
        conf = kcvm.write_conf(os.path.join(tmp, "kata-conmon.conf"), kernel, initrd)
        p = Podman(e, tmp, conf, vmdir)
        rootfs = kcoci.make_rootfs(os.path.join(tmp, "rootfs"))
        tar = kcoci.rootfs_tarball(rootfs, os.path.join(tmp, "rootfs.tar"))
        r = p.run("import", tar, IMAGE)
        if r.returncode != 0:
            raise kcoci.Missing("podman import failed: " + r.stderr.decode(errors="replace"))
        links_before = host_links()
        cases(tap, p, vmdir, tmp)
        tap.eq(host_links(), links_before, "no network device was added to the host (no podman bridge)")
    except kcoci.Missing as ex:
        tap.fail_prereq(str(ex))
    except Exception as ex:  # noqa: BLE001
        tap.ok(False, f"harness raised {type(ex).__name__}: {ex}")
    finally:
        if p:
            p.run("rm", "-a", "-f", "-t", "0", timeout=60)
        kcoci.reap_all_children()
        if tmp:
            kcvm.remove_tmp(tmp)
    sys.exit(tap.finish())


def cases(tap, p, vmdir, tmp):
    host = os.uname().release
    guest_kernels = set(os.listdir("/lib/modules"))

    t0 = time.monotonic()
    r = p.run("run", "--rm", IMAGE, "uname", "-r")
    got = out(r).strip()
    tap.ok(r.returncode == 0 and got in guest_kernels and got != host,
           "run --rm uname -r prints the guest kernel, not the host's",
           f"rc={r.returncode} got={got!r} host={host!r} stderr={r.stderr!r}")
    tap.diag("podman run --rm uname -r: %.2f s" % (time.monotonic() - t0))

    # run -d, logs, exec with exit codes, exec -t, stop (SIGTERM honoured), wait, rm
    r = p.run("run", "-d", "--name", "c1", IMAGE, "sh", "-c",
              'echo started; trap "echo got-term; exit 7" TERM; while true; do sleep 1; done')
    tap.eq(r.returncode, 0, "run -d", )
    kcoci.wait_for(lambda: "started" in out(p.run("logs", "c1")), 20)
    tap.eq(out(p.run("logs", "c1")), "started\n", "logs shows the guest output")
    r = p.run("exec", "c1", "sh", "-c", "echo in-exec; exit 5")
    tap.ok(r.returncode == 5 and out(r) == "in-exec\n", "exec relays output and the exit code (5)",
           f"rc={r.returncode} out={out(r)!r} err={r.stderr!r}")
    r = p.run("exec", "c1", "sh", "-c", "test $(id -u) = 0 && exit 0 || exit 1")
    tap.eq(r.returncode, 0, "exec exit code 0")
    r = p.run("exec", "-t", "c1", "sh", "-c", "tty")
    tap.match(r"^/dev/pts/\d+\r?$", out(r).strip(), "exec -t runs on a terminal in the guest")
    r = p.run("stop", "-t", "10", "c1")
    tap.eq(r.returncode, 0, "stop (SIGTERM)")
    r = p.run("wait", "c1")
    tap.eq(out(r).strip(), "7", "wait gives the status of the trapped SIGTERM (7)")
    tap.match(r"got-term", out(p.run("logs", "c1")), "the container saw SIGTERM")
    tap.eq(p.run("rm", "c1").returncode, 0, "rm")

    # stop: SIGTERM ignored → SIGKILL after the timeout
    p.run("run", "-d", "--name", "c2", IMAGE, "sh", "-c", 'trap "" TERM; echo ignoring; while true; do sleep 1; done')
    kcoci.wait_for(lambda: "ignoring" in out(p.run("logs", "c2")), 20)
    t1 = time.monotonic()
    r = p.run("stop", "-t", "2", "c2")
    tap.ok(r.returncode == 0 and time.monotonic() - t1 >= 1.9, "stop falls back to SIGKILL after the timeout")
    tap.eq(out(p.run("wait", "c2")).strip(), "137", "status 137 after SIGKILL")
    p.run("rm", "c2")

    # kill with a signal the workload handles
    p.run("run", "-d", "--name", "c3", IMAGE, "sh", "-c", 'trap "exit 9" USR1; echo ready; while true; do sleep 1; done')
    kcoci.wait_for(lambda: "ready" in out(p.run("logs", "c3")), 20)
    tap.eq(p.run("kill", "-s", "USR1", "c3").returncode, 0, "kill -s USR1")
    tap.eq(out(p.run("wait", "c3")).strip(), "9", "the guest process got USR1 (exit 9)")
    p.run("rm", "c3")

    # run -d then wait
    p.run("run", "-d", "--name", "c4", IMAGE, "sh", "-c", "sleep 1; echo done-c4; exit 4")
    tap.eq(out(p.run("wait", "c4")).strip(), "4", "run -d then wait: exit 4")
    tap.eq(out(p.run("logs", "c4")), "done-c4\n", "and its output")
    p.run("rm", "c4")

    # attach
    p.run("run", "-d", "--name", "c5", IMAGE, "sh", "-c", "sleep 3; echo attached-out; exit 3")
    r = p.run("attach", "--no-stdin", "c5")
    # Same bytes and status as podman gives with runc + Debian's conmon.
    tap.ok(out(r).startswith("attached-out\n") and r.returncode == 0, "attach streams the output until the exit",
           f"rc={r.returncode} out={out(r)!r} err={r.stderr!r}")
    tap.eq(out(p.run("wait", "c5")).strip(), "3", "the attached container's status")
    p.run("rm", "c5")

    # -t and -i
    r = p.run("run", "--rm", "-t", IMAGE, "sh", "-c", "tty; echo in-tty")
    tap.match(r"^/dev/pts/\d+\r\nin-tty\r\n$", out(r), "run -t: a guest terminal (CRLF output)")
    r = p.run("run", "--rm", "-i", IMAGE, "sh", "-c", "cat; echo eof-seen", input=b"from-stdin\n")
    tap.eq(out(r), "from-stdin\neof-seen\n", "run -i: stdin reaches the guest, EOF too")

    # nothing left behind
    time.sleep(0.3)
    tap.eq(kcvm.processes_matching(vmdir), [], "no QEMU or virtiofsd left")
    tap.eq([x for x in kcvm.processes_matching(tmp) if kcvm.comm(x[0]) in ("kc-standin", "kata-conmon-vm")], [],
           "no monitor or stand-in left")
    tap.eq(sorted(os.listdir(vmdir)) if os.path.isdir(vmdir) else [], [], "no sandbox dir left")
    tap.eq([m for m in kcvm.mounts_under(vmdir)], [], "no mounts left under the sandbox dirs")
    tap.eq(kcvm.sanitizer_reports(tmp), [], "no sanitizer reports from the monitors")


if __name__ == "__main__":
    main()
