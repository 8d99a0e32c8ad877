"""Shared helpers for the guest integration tests: busybox rootfs, subreaper, cleanup."""
import ctypes
import glob
import os
import shutil
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36


def fail_all(msg):
    """A missing prerequisite fails the test with a clear message (never a silent pass)."""
    print("1..1")
    print("not ok 1 - " + msg)
    sys.exit(1)


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        fail_all("prctl(PR_SET_CHILD_SUBREAPER) failed")


def reap_all():
    """Collect every orphan that was re-parented to us."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def busybox_template(dest):
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not os.path.exists(busybox):
        fail_all("busybox is missing (apt-get install busybox-static)")
    out = subprocess.run(["file", "-L", busybox], capture_output=True, text=True).stdout if shutil.which("file") else ""
    if out and "statically linked" not in out:
        fail_all("%s is not static (apt-get install busybox-static)" % busybox)
    for d in ("bin", "sbin", "usr/bin", "proc", "sys", "dev", "tmp", "etc", "root"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    shutil.copy2(busybox, os.path.join(dest, "bin/busybox"))
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in applets:
        link = os.path.join(dest, "bin", a)
        if not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(dest, "etc/passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(dest, "etc/group"), "w") as f:
        f.write("root:x:0:\n")


def leftover_cgroups(prefix):
    """Container cgroups (/kata-<prefix>-*) that the runtime should have removed."""
    return glob.glob("/sys/fs/cgroup/*/kata-%s-*" % prefix) + glob.glob("/sys/fs/cgroup/kata-%s-*" % prefix)


def remove_cgroups(prefix):
    """Only after a failure: empty container cgroups a killed runtime could not remove."""
    for d in leftover_cgroups(prefix):
        try:
            os.rmdir(d)
        except OSError:
            pass
