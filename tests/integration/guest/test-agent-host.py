#!/usr/bin/env python3
"""kata-agent in host mode (no VM) over a socketpair, driven by kc-agent-driver: TAP.

Host mode uses runc: crun 1.8 refuses this machine's hybrid cgroup v1/v2 layout."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guestlib  # noqa: E402


def main():
    driver = os.environ.get("KC_AGENT_DRIVER")
    agent = os.environ.get("KC_AGENT")
    runtime = os.environ.get("KC_HOST_RUNTIME", "/usr/sbin/runc")
    if not driver or not agent:
        guestlib.fail_all("KC_AGENT_DRIVER and KC_AGENT must be set (run through meson test)")
    if os.geteuid() != 0:
        guestlib.fail_all("needs root (containers with runc)")
    if not os.access(runtime, os.X_OK):
        guestlib.fail_all("%s is missing (apt-get install runc)" % runtime)
    guestlib.become_subreaper()
    work = tempfile.mkdtemp(prefix="kc-guest-")
    prefix = "kch%d" % os.getpid()
    rc = 1
    try:
        template = os.path.join(work, "template")
        guestlib.busybox_template(template)
        proc = subprocess.run([driver, "--agent", agent, "--runtime", runtime, "--work", work,
                               "--template", template, "--prefix", prefix], timeout=600)
        rc = proc.returncode
        left = guestlib.leftover_cgroups(prefix)
        if left:
            print("# cgroups left behind: %s" % " ".join(left))
            rc = 1
    except subprocess.TimeoutExpired:
        print("not ok 999 - driver timed out")
    finally:
        guestlib.reap_all()
        # Anything runc left behind for our containers (only after a failure).
        root = os.path.join(work, "runtime-root")
        if os.path.isdir(root):
            for cid in os.listdir(root):
                subprocess.run([runtime, "--root", root, "delete", "--force", cid], capture_output=True)
        guestlib.reap_all()
        guestlib.remove_cgroups(prefix)
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(rc)


if __name__ == "__main__":
    main()
