#!/usr/bin/env python3
"""kata-agent in a real QEMU VM (TCG) with the built guest image: TAP.

Boot 1 (virtio-fs): every scenario of kc-agent-driver in one VM. Boot 2 (9p only): the host asks for
virtio-fs, the agent falls back to 9p, and a short scenario runs over it. The VMs come from
kata-conmon's own QEMU argv (kc-vm-argv); the agent channel is the virtio-serial port agent.channel.0."""
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guestlib  # noqa: E402

ENV = {k: os.environ.get(k) for k in ("KC_BUILD_IMAGE", "KC_VM_ARGV", "KC_AGENT", "KC_AGENT_DRIVER")}
results = []  # (ok, description)


def start_virtiofsd(sock, shared):
    if os.access("/usr/libexec/virtiofsd", os.X_OK):
        cmd = ["/usr/libexec/virtiofsd", "--socket-path", sock, "--shared-dir", shared, "--cache", "auto"]
    elif os.access("/usr/lib/qemu/virtiofsd", os.X_OK):
        cmd = ["/usr/lib/qemu/virtiofsd", "--socket-path=" + sock, "-o", "source=" + shared, "-o", "cache=auto"]
    else:
        guestlib.fail_all("no virtiofsd (/usr/lib/qemu/virtiofsd or /usr/libexec/virtiofsd)")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(sock) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return p


def stop(p):
    if p and p.poll() is None:
        p.kill()
    if p:
        p.wait()


def run_vm(tmp, image, template, name, shared_fs, driver_args):
    """Boots one VM, runs the driver against it, collects its TAP results (renumbered later)."""
    work = os.path.join(tmp, name)
    shared = os.path.join(work, "shared")
    os.makedirs(shared)
    vfsd = qemu = None
    console = bytearray()
    extra = []
    try:
        if shared_fs == "virtio-fs":
            sock = os.path.join(tmp, name + "-vfs.sock")
            vfsd = start_virtiofsd(sock, shared)
            if not os.path.exists(sock):
                results.append((False, "%s: virtiofsd did not start" % name))
                return
            extra = ["--virtiofs-socket", sock]
        else:
            extra = ["--shared-dir", shared]
        conf = os.path.join(tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write("[hypervisor.qemu]\nkernel=%s/kernel\ninitrd=%s/initrd\naccel=tcg\nshared_fs=%s\n"
                    "default_memory=512\n" % (image, image, shared_fs))
        agent_host, agent_qemu = socket.socketpair()
        console_host, console_qemu = socket.socketpair()
        r = subprocess.run([ENV["KC_VM_ARGV"], "--config", conf, "--sandbox-id", "kc-guest-" + name, "--accel", "tcg",
                            "--agent-fd", str(agent_qemu.fileno()), "--console-fd", str(console_qemu.fileno())] + extra,
                           capture_output=True, text=True)
        if r.returncode != 0:
            results.append((False, "%s: kc-vm-argv failed: %s" % (name, r.stderr.strip())))
            return
        argv = r.stdout.split("\n")[:-1]
        print("# %s: %s" % (name, " ".join(argv)))
        sys.stdout.flush()
        qemu = subprocess.Popen(argv, pass_fds=[agent_qemu.fileno(), console_qemu.fileno()],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        agent_qemu.close()
        console_qemu.close()

        def read_console():
            while True:
                d = console_host.recv(65536)
                if not d:
                    return
                console.extend(d)
        threading.Thread(target=read_console, daemon=True).start()

        t0 = time.monotonic()
        driver = subprocess.run([ENV["KC_AGENT_DRIVER"], "--fd", str(agent_host.fileno()), "--work", work,
                                 "--template", template, "--prefix", "kcv"] + driver_args,
                                pass_fds=[agent_host.fileno()], stdout=subprocess.PIPE, text=True, timeout=900)
        agent_host.close()
        failed = False
        for line in driver.stdout.splitlines():
            m = re.match(r"^(ok|not ok) \d+ - (.*)$", line)
            if m:
                results.append((m.group(1) == "ok", "%s: %s" % (name, m.group(2))))
                failed |= m.group(1) != "ok"
            elif not re.match(r"^1\.\.\d+$", line):
                print("# " + line)
        print("# %s: scenarios took %.1f s" % (name, time.monotonic() - t0))
        if driver.returncode != 0 and not failed:
            results.append((False, "%s: driver exited %d" % (name, driver.returncode)))
            failed = True
        try:
            qrc = qemu.wait(timeout=30)
        except subprocess.TimeoutExpired:
            qrc = None
        results.append((qrc == 0, "%s: the guest powered off after destroy-sandbox (QEMU rc=%r)" % (name, qrc)))
        if failed or qrc != 0:
            for line in console.decode(errors="replace").splitlines()[-80:]:
                print("# console: " + line)
            for line in qemu.stderr.read().decode(errors="replace").splitlines()[-20:]:
                print("# qemu: " + line)
    except subprocess.TimeoutExpired:
        results.append((False, "%s: driver timed out" % name))
    finally:
        stop(qemu)
        stop(vfsd)


def main():
    for name, path in ENV.items():
        if not path or not os.access(path, os.X_OK):
            guestlib.fail_all("prerequisite %s (%r) is not an executable" % (name, path))
    if not shutil.which("qemu-system-x86_64"):
        guestlib.fail_all("qemu-system-x86_64 is missing (apt-get install qemu-system-x86)")
    if os.geteuid() != 0:
        guestlib.fail_all("needs root (virtiofsd)")
    guestlib.become_subreaper()
    tmp = tempfile.mkdtemp(prefix="kc-guest-vm-")
    try:
        image = os.path.join(tmp, "image")
        t0 = time.monotonic()
        r = subprocess.run([ENV["KC_BUILD_IMAGE"], "--agent", ENV["KC_AGENT"], "--output-dir", image, "--quiet"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            guestlib.fail_all("guest image build failed: " + r.stderr.strip().replace("\n", " | "))
        print("# guest image built in %.1f s, initrd %.1f MiB" % (time.monotonic() - t0,
                                                                os.path.getsize(os.path.join(image, "initrd")) / 1048576))
        template = os.path.join(tmp, "template")
        guestlib.busybox_template(template)
        run_vm(tmp, image, template, "virtio-fs", "virtio-fs", ["--stats", "--expect-fs", "virtio-fs"])
        run_vm(tmp, image, template, "9p", "virtio-9p", ["--quick", "--expect-fs", "9p"])
    finally:
        guestlib.reap_all()
        shutil.rmtree(tmp, ignore_errors=True)
        # Debian's virtiofsd leaves /run/virtiofsd/<socket path with / as .>.pid behind when killed.
        for f in glob.glob("/run/virtiofsd/" + glob.escape(tmp.replace("/", ".")) + "*.pid"):
            os.unlink(f)
    for i, (ok, desc) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, desc))
    print("1..%d" % len(results))
    sys.exit(0 if results and all(ok for ok, _ in results) else 1)


if __name__ == "__main__":
    main()
