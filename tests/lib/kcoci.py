"""Busybox root filesystems, OCI bundles, a private runc root, and process helpers for tests."""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time

BUSYBOX = "/bin/busybox"
RUNC = shutil.which("runc") or "/usr/sbin/runc"
PR_SET_CHILD_SUBREAPER = 36


class Missing(Exception):
    """A prerequisite of the test is not installed or not usable."""


def require_exe(path, what):
    if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise Missing(f"{what} not found or not executable: {path!r}")
    return path


def become_subreaper():
    """Daemonized monitors then re-parent to us, so we can reap them (PID 1 here does not)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def make_rootfs(root):
    """A minimal busybox-static root filesystem at `root`."""
    require_exe(BUSYBOX, "busybox (Debian package busybox-static)")
    with open(BUSYBOX, "rb") as f:
        head = f.read(4096)
    if b"ld-linux" in head:
        raise Missing(f"{BUSYBOX} is dynamically linked: install busybox-static")
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin/busybox"))
    applets = subprocess.run([BUSYBOX, "--list-full"], check=True, capture_output=True,
                             text=True).stdout.split()
    for a in applets:
        p = os.path.join(root, a)
        if not os.path.lexists(p):
            os.makedirs(os.path.dirname(p), exist_ok=True)
            os.symlink("/bin/busybox", p)
    with open(os.path.join(root, "etc/passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    with open(os.path.join(root, "etc/group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    return root


def rootfs_tarball(root, tar_path):
    with tarfile.open(tar_path, "w") as t:
        for name in sorted(os.listdir(root)):
            t.add(os.path.join(root, name), arcname=name)
    return tar_path


_SPEC = None


def _base_spec():
    global _SPEC
    if _SPEC is None:
        require_exe(RUNC, "runc")
        d = subprocess.run(["mktemp", "-d"], check=True, capture_output=True, text=True).stdout.strip()
        try:
            subprocess.run([RUNC, "spec", "--bundle", d], check=True, capture_output=True)
            with open(os.path.join(d, "config.json")) as f:
                _SPEC = json.load(f)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return json.loads(json.dumps(_SPEC))


def make_bundle(bundle, rootfs, args, terminal=False, env=None, cwd="/", memory_limit=None):
    """An OCI bundle whose config.json runs `args` in the (shared, read-only) busybox rootfs."""
    os.makedirs(bundle, exist_ok=True)
    spec = _base_spec()
    spec["process"]["terminal"] = terminal
    spec["process"]["args"] = list(args)
    spec["process"]["cwd"] = cwd
    if env:
        spec["process"]["env"] = spec["process"]["env"] + list(env)
    spec["root"] = {"path": os.path.abspath(rootfs), "readonly": True}
    spec["hostname"] = "kctest"
    if memory_limit:
        spec["linux"].setdefault("resources", {})["memory"] = {"limit": memory_limit,
                                                               "swap": memory_limit}
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f, indent=1)
    return bundle


def process_spec(args, terminal=False, env=None):
    """A process.json for `runtime exec --process` (what CRI-O writes for exec-sync)."""
    p = _base_spec()["process"]
    p["terminal"] = terminal
    p["args"] = list(args)
    if env:
        p["env"] = p["env"] + list(env)
    return p


class Runc:
    """runc with a private --root, so tests never see or touch the machine's containers."""

    def __init__(self, root):
        self.root = root
        self.path = require_exe(RUNC, "runc")
        os.makedirs(root, exist_ok=True)

    @property
    def root_arg(self):
        return f"--root={self.root}"

    def run(self, *args, check=True, timeout=30):
        return subprocess.run([self.path, self.root_arg, *args], capture_output=True, text=True,
                              check=check, timeout=timeout)

    def state(self, cid):
        r = self.run("state", cid, check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def cleanup(self):
        """Delete every container in our root (kill first), by name."""
        r = self.run("list", "-q", check=False)
        for cid in r.stdout.split():
            self.run("kill", cid, "KILL", check=False)
            self.run("delete", "--force", cid, check=False)


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read().rsplit(")", 1)[1].split()[0]
        return st not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


_last_orphan_scan = 0.0


def reap_container_orphans(force=False):
    """Reap dead container processes re-parented to us (we are a subreaper): exec'd processes
    outlive the --sync monitor that started them. Until they are reaped, the container's init
    hangs in the kernel's pid-namespace teardown and never exits. Only processes of another pid
    namespace are reaped, so the statuses of our monitors and Popen children stay ours."""
    global _last_orphan_scan
    now = time.monotonic()
    if not force and now - _last_orphan_scan < 0.05:
        return
    _last_orphan_scan = now
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[0] != "Z" or int(fields[1]) != me:
                continue
            with open(f"/proc/{d}/status") as f:
                nspid = [ln for ln in f if ln.startswith("NSpid:")]
            if nspid and len(nspid[0].split()) > 2:
                os.waitpid(int(d), os.WNOHANG)
        except (OSError, IndexError, ValueError):
            continue


def reap(pid, timeout=10.0):
    """Wait for one of our children (or re-parented orphans); returns the wait status or None."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            p, st = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if p == pid:
            return st
        if time.monotonic() > deadline:
            return None
        reap_container_orphans()
        time.sleep(0.01)


def kill_and_reap(pid):
    if pid and pid > 0:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        reap(pid, 5)


def reap_all_children():
    """Reap any zombies re-parented to us (we are a subreaper)."""
    while True:
        try:
            p, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if p == 0:
            return


def wait_for(cond, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            return v
        reap_container_orphans()
        time.sleep(interval)
