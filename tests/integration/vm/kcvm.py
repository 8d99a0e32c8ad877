"""Shared set-up of the VM engine tests: guest image, kata-conmon.conf, kata-runtime, leftovers."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("KC_SOURCE_DIR", "."), "tests", "lib"))
import kcoci  # noqa: E402

ENV_KEYS = ("KC_CONMON_VM", "KC_RUNTIME", "KC_AGENT", "KC_BUILD_IMAGE")
T_TYPE = "io.kubernetes.cri-o.ContainerType"
T_SANDBOX = "io.kubernetes.cri-o.SandboxID"

# The guest's root is the initramfs, where crun's pivot_root(2) fails with EINVAL. Until kata-agent
# moves itself onto a tmpfs (switch_root) the test image gets a tiny /init that does it first. It
# is appended as a second cpio archive, which the kernel unpacks over the first.
SWITCH_ROOT_INIT = """#!/kc/busybox sh
B=/kc/busybox
$B mkdir -p /newroot
$B mount -t tmpfs -o mode=0755 tmpfs /newroot
for f in /*; do
        case "$f" in /newroot|/proc|/sys|/dev) continue ;; esac
        $B cp -a "$f" /newroot/
done
$B mkdir -p /newroot/proc /newroot/sys /newroot/dev
exec $B switch_root /newroot /sbin/kata-agent
"""


def env():
    e = {k: os.environ.get(k, "") for k in ENV_KEYS}
    for k, v in e.items():
        if not v:
            raise kcoci.Missing(f"{k} is not set (meson provides it)")
    kcoci.require_exe(e["KC_CONMON_VM"], "kata-conmon (VM engine)")
    kcoci.require_exe(e["KC_RUNTIME"], "kata-runtime")
    kcoci.require_exe(e["KC_AGENT"], "kata-agent")
    kcoci.require_exe("/usr/bin/qemu-system-x86_64", "qemu-system-x86_64 (Debian package qemu-system-x86)")
    return e


def build_image(e, out):
    """kernel + initrd from kata-conmon-build-image, plus the switch_root /init."""
    os.makedirs(out, exist_ok=True)
    r = subprocess.run(["bash", e["KC_BUILD_IMAGE"], "--agent", e["KC_AGENT"], "--output-dir", out, "--quiet"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise kcoci.Missing("guest image build failed: " + r.stderr.strip().replace("\n", " | "))
    extra = os.path.join(out, "extra")
    os.makedirs(os.path.join(extra, "kc"))
    os.makedirs(os.path.join(extra, "sbin"))
    kcoci.require_exe(kcoci.BUSYBOX, "busybox (Debian package busybox-static)")
    shutil.copy2(kcoci.BUSYBOX, os.path.join(extra, "kc", "busybox"))
    shutil.copy2(e["KC_AGENT"], os.path.join(extra, "sbin", "kata-agent"))
    with open(os.path.join(extra, "init"), "w") as f:
        f.write(SWITCH_ROOT_INIT)
    os.chmod(os.path.join(extra, "init"), 0o755)
    names = subprocess.run(["find", ".", "-mindepth", "1"], cwd=extra, capture_output=True, text=True,
                           check=True).stdout
    cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=extra, input=names.encode(),
                          capture_output=True, check=True).stdout
    initrd = os.path.join(out, "initrd-test")
    with open(os.path.join(out, "initrd"), "rb") as src, open(initrd, "wb") as dst:
        shutil.copyfileobj(src, dst)
        dst.write(cpio)
    return os.path.join(out, "kernel"), initrd


def write_conf(path, kernel, initrd, extra=""):
    with open(path, "w") as f:
        f.write(f"[hypervisor.qemu]\nkernel={kernel}\ninitrd={initrd}\naccel=tcg\ndefault_memory=512\n"
                "enable_annotations=kernel_params;default_memory\n" + extra)
    return path


class KataRuntime(kcoci.Runc):
    """kata-runtime with a private --root and the test's configuration (same interface as Runc)."""

    def __init__(self, path, root, env):
        self.root = root
        self.path = path
        self.env = env
        os.makedirs(root, exist_ok=True)

    def run(self, *args, check=True, timeout=60):
        return subprocess.run([self.path, self.root_arg, *args], capture_output=True, text=True,
                              check=check, timeout=timeout, env=self.env)

    def cleanup(self):
        for cid in os.listdir(self.root) if os.path.isdir(self.root) else []:
            self.run("kill", cid, "KILL", check=False)
            self.run("delete", "--force", cid, check=False)


def add_annotations(bundle, annotations):
    p = os.path.join(bundle, "config.json")
    with open(p) as f:
        spec = json.load(f)
    spec["annotations"] = dict(annotations)
    with open(p, "w") as f:
        json.dump(spec, f)


def processes_matching(needle):
    """Live (non-zombie) processes whose command line contains needle."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmd and kcoci.pid_alive(int(pid)):
            out.append((int(pid), cmd))
    return out


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if ln.split()[4].startswith(path)]


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None
