"""A private podman environment: own storage, runroot, tmpdir, containers.conf; never the machine's."""
import os
import shutil
import subprocess

import kcoci

PODMAN = shutil.which("podman") or "/usr/bin/podman"

CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
netns = "none"
log_driver = "k8s-file"
cgroupns = "host"
ipcns = "private"
utsns = "private"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
static_dir = "{base}/libpod"
volume_path = "{base}/volumes"
tmp_dir = "{base}/tmp"
network_cmd_options = []

[network]
network_config_dir = "{base}/networks"
"""

STORAGE_CONF = """[storage]
driver = "vfs"
graphroot = "{base}/root"
runroot = "{base}/runroot"
"""


class Podman:
    """`podman` with --conmon <monitor> --runtime runc and everything private under `base`."""

    def __init__(self, base, conmon, runtime=None):
        self.exe = kcoci.require_exe(PODMAN, "podman")
        self.base = base
        self.conmon = os.path.abspath(kcoci.require_exe(conmon, "monitor binary"))
        self.runtime = runtime or kcoci.require_exe(kcoci.RUNC, "runc")
        for d in ("root", "runroot", "tmp", "libpod", "volumes", "networks"):
            os.makedirs(os.path.join(base, d), exist_ok=True)
        self.conf = os.path.join(base, "containers.conf")
        with open(self.conf, "w") as f:
            f.write(CONTAINERS_CONF.format(base=base))
        self.storage_conf = os.path.join(base, "storage.conf")
        with open(self.storage_conf, "w") as f:
            f.write(STORAGE_CONF.format(base=base))
        self.registries_conf = os.path.join(base, "registries.conf")
        with open(self.registries_conf, "w") as f:
            f.write("unqualified-search-registries = []\n")
        self.env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                    "HOME": os.path.join(base, "home"), "CONTAINERS_CONF": self.conf,
                    "CONTAINERS_STORAGE_CONF": self.storage_conf,
                    "CONTAINERS_REGISTRIES_CONF": self.registries_conf,
                    "TMPDIR": os.path.join(base, "tmp"), "XDG_RUNTIME_DIR": os.path.join(base, "xdg")}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]
        os.makedirs(self.env["HOME"], exist_ok=True)
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)

    def argv(self, *args):
        return [self.exe, "--root", os.path.join(self.base, "root"),
                "--runroot", os.path.join(self.base, "runroot"),
                "--tmpdir", os.path.join(self.base, "tmp"),
                "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                "--events-backend", "file", "--network-config-dir", os.path.join(self.base, "networks"),
                "--conmon", self.conmon, "--runtime", self.runtime, *args]

    def run(self, *args, input=None, timeout=60, check=False):
        return subprocess.run(self.argv(*args), capture_output=True, text=True, input=input,
                              timeout=timeout, env=self.env, check=check,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def popen(self, *args, **kw):
        return subprocess.Popen(self.argv(*args), env=self.env, **kw)

    def import_rootfs(self, rootfs, image="localhost/kcbb:latest"):
        tar = kcoci.rootfs_tarball(rootfs, os.path.join(self.base, "rootfs.tar"))
        r = self.run("import", "--change", "CMD=/bin/sh", tar, image)
        os.unlink(tar)
        if r.returncode != 0:
            raise RuntimeError(f"podman import failed: {r.stderr}")
        return image

    def cleanup(self):
        """Remove every container (force), then unmount whatever podman left under base."""
        self.run("rm", "-a", "-f", "-t", "0", timeout=60)
        umount_under(self.base)


def hide_machine_storage():
    """Inside a private mount namespace: tmpfs over /var/lib/containers, where containers/image
    keeps its blob-info cache for root whatever --root says, so podman never writes the machine's."""
    if os.environ.get("KC_IN_PRIVATE_MNTNS") != "1":
        raise RuntimeError("hide_machine_storage() needs kcjournald.reexec_in_mount_ns() first")
    os.makedirs("/var/lib/containers", mode=0o700, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "tmpfs", "/var/lib/containers"],
                   check=True, capture_output=True)


def umount_under(path):
    path = os.path.realpath(path)
    mps = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path + "/"):
                mps.append(mp)
    for mp in sorted(mps, key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)
