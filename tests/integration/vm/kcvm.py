"""Shared set-up of the VM engine tests: guest image, kata-conmon.conf, kata-runtime, leftovers."""
import json
import os
import subprocess
import sys
import tempfile
import types

sys.path.insert(0, os.path.join(os.environ.get("KC_SOURCE_DIR", "."), "tests", "lib"))
import kcoci  # noqa: E402

ENV_KEYS = ("KC_CONMON_VM", "KC_RUNTIME", "KC_AGENT", "KC_BUILD_IMAGE")
T_TYPE = "io.kubernetes.cri-o.ContainerType"
T_SANDBOX = "io.kubernetes.cri-o.SandboxID"

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
    """kernel + initrd from kata-conmon-build-image (stage-0 init, kata-agent, crun, modules)."""
    os.makedirs(out, exist_ok=True)
    r = subprocess.run(["bash", e["KC_BUILD_IMAGE"], "--agent", e["KC_AGENT"], "--output-dir", out, "--quiet"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise kcoci.Missing("guest image build failed: " + r.stderr.strip().replace("\n", " | "))
    return os.path.join(out, "kernel"), os.path.join(out, "initrd")


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


def run_test(tap, prefix, body, after=None):
    """A VM test's main: body(e, tmp, pod) in a private directory under /tmp; a harness it puts in
    pod.h is cleaned up, then every child is reaped, after() runs and the directory goes. A missing
    prerequisite fails the plan, any other exception fails a test. Exits with the TAP result."""
    tmp, pod = None, types.SimpleNamespace(h=None)
    try:
        e = env()
        kcoci.become_subreaper()
        tmp = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        body(e, tmp, pod)
    except kcoci.Missing as ex:
        tap.fail_prereq(str(ex))
    except Exception as ex:  # noqa: BLE001
        tap.ok(False, f"harness raised {type(ex).__name__}: {ex}")
    finally:
        if pod.h:
            pod.h.cleanup()
        kcoci.reap_all_children()
        if after:
            after()
        if tmp:
            remove_tmp(tmp)
    sys.exit(tap.finish())


def pod_setup(e, tmp):
    """What the CRI-O-shaped VM tests start with: the image, kata-conmon.conf, the monitors'
    environment, kata-runtime with a private root, and the harness. Returns (h, kr, menv, vmdir)."""
    import kccrio  # noqa: E402 (kccrio needs the same sys.path the tests set up)
    kernel, initrd = build_image(e, os.path.join(tmp, "img"))
    conf = write_conf(os.path.join(tmp, "kata-conmon.conf"), kernel, initrd)
    vmdir = os.path.join(tmp, "vm")
    menv = {"KATA_CONMON_CONF": conf, "KATA_CONMON_VM_RUN_DIR": vmdir, **sanitizer_env(tmp)}
    kr = KataRuntime(e["KC_RUNTIME"], os.path.join(tmp, "root"), dict(os.environ, **menv))
    rootfs = kcoci.make_rootfs(os.path.join(tmp, "rootfs"))
    return kccrio.Harness(e["KC_CONMON_VM"], tmp, rootfs, kr), kr, menv, vmdir


def add_annotations(bundle, annotations, edit=None):
    """Gives the bundle's config.json CRI-O's annotations; edit(spec) may change the spec further."""
    p = os.path.join(bundle, "config.json")
    with open(p) as f:
        spec = json.load(f)
    spec["annotations"] = dict(annotations)
    if edit:
        edit(spec)
    with open(p, "w") as f:
        json.dump(spec, f)


def create(h, cid, args, annotations, menv, edit=None, timeout=120, **kw):
    """CreateContainer through the harness h for a bundle with CRI-O's annotations (and edit(spec))."""
    import kccrio  # noqa: E402
    orig = kccrio.kcoci.make_bundle

    def make_bundle(bundle, rootfs, a, **k):
        orig(bundle, rootfs, a, **k)
        add_annotations(bundle, annotations, edit)
    kccrio.kcoci.make_bundle = make_bundle
    try:
        return h.create(cid, args, env=menv, timeout=timeout, **kw)
    finally:
        kccrio.kcoci.make_bundle = orig


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


def remove_tmp(tmp):
    """Unmounts whatever a test left under tmp (deepest first) and removes it."""
    for m in reversed(mounts_under(tmp)):
        subprocess.run(["umount", "-l", m], capture_output=True)
    subprocess.run(["rm", "-rf", "--one-file-system", tmp], capture_output=True)


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


def sanitizer_env(tmp):
    """Sanitizer reports of daemonized monitors (stderr is /dev/null) land in tmp/san/*: tests check it."""
    d = os.path.join(tmp, "san")
    os.makedirs(d, exist_ok=True)
    env = {}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        v = os.environ.get(k, "")
        env[k] = (v + ":" if v else "") + f"log_path={d}/{k.split('_')[0].lower()}"
    return env


def sanitizer_reports(tmp):
    d = os.path.join(tmp, "san")
    out = []
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        with open(os.path.join(d, name), errors="replace") as f:
            out.append(f"{name}: {f.read()[:2000]}")
    return out
