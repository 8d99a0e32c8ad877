#!/usr/bin/env python3
"""kata-agent in a real QEMU VM (TCG) with the built guest image: one boot for every scenario: TAP.

The VM comes from kata-conmon's own QEMU argv (kc-vm-argv), the rootfs is shared with virtio-fs,
the agent channel is the virtio-serial port agent.channel.0; kc-agent-driver talks to it."""
import os
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
    vfsd = qemu = None
    console = bytearray()
    rc = 1
    try:
        image = os.path.join(tmp, "image")
        t0 = time.monotonic()
        r = subprocess.run([ENV["KC_BUILD_IMAGE"], "--agent", ENV["KC_AGENT"], "--output-dir", image, "--quiet"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            guestlib.fail_all("guest image build failed: " + r.stderr.strip().replace("\n", " | "))
        build_s = time.monotonic() - t0
        initrd_size = os.path.getsize(os.path.join(image, "initrd"))
        print("# guest image built in %.1f s, initrd %.1f MiB" % (build_s, initrd_size / 1048576))

        work = os.path.join(tmp, "work")
        shared = os.path.join(work, "shared")
        os.makedirs(shared)
        template = os.path.join(tmp, "template")
        guestlib.busybox_template(template)
        vfs_sock = os.path.join(tmp, "vfs.sock")
        vfsd = start_virtiofsd(vfs_sock, shared)
        if not os.path.exists(vfs_sock):
            guestlib.fail_all("virtiofsd did not start")
        conf = os.path.join(tmp, "kata-conmon.conf")
        with open(conf, "w") as f:
            f.write("[hypervisor.qemu]\nkernel=%s/kernel\ninitrd=%s/initrd\naccel=tcg\nshared_fs=virtio-fs\n"
                    "default_memory=512\n" % (image, image))
        agent_host, agent_qemu = socket.socketpair()
        console_host, console_qemu = socket.socketpair()
        r = subprocess.run([ENV["KC_VM_ARGV"], "--config", conf, "--sandbox-id", "kc-guest-vm", "--accel", "tcg",
                            "--agent-fd", str(agent_qemu.fileno()), "--console-fd", str(console_qemu.fileno()),
                            "--virtiofs-socket", vfs_sock], capture_output=True, text=True)
        if r.returncode != 0:
            guestlib.fail_all("kc-vm-argv failed: " + r.stderr.strip())
        argv = r.stdout.split("\n")[:-1]
        print("# " + " ".join(argv))
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
        reader = threading.Thread(target=read_console, daemon=True)
        reader.start()

        t0 = time.monotonic()
        driver = subprocess.run([ENV["KC_AGENT_DRIVER"], "--fd", str(agent_host.fileno()), "--work", work,
                                 "--template", template, "--prefix", "kcv", "--stats"],
                                pass_fds=[agent_host.fileno()], timeout=900)
        agent_host.close()
        print("# scenarios took %.1f s in one VM" % (time.monotonic() - t0))
        rc = driver.returncode
        try:
            qrc = qemu.wait(timeout=30)
        except subprocess.TimeoutExpired:
            qrc = None
        if qrc != 0:
            print("# QEMU did not power off cleanly after destroy-sandbox (rc=%r)" % qrc)
            rc = 1
        if rc != 0:
            for line in console.decode(errors="replace").splitlines()[-80:]:
                print("# console: " + line)
            if qemu.stderr:
                for line in qemu.stderr.read().decode(errors="replace").splitlines()[-20:]:
                    print("# qemu: " + line)
    except subprocess.TimeoutExpired:
        print("not ok 999 - driver timed out")
        rc = 1
    finally:
        stop(qemu)
        stop(vfsd)
        guestlib.reap_all()
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(rc)


if __name__ == "__main__":
    main()
