#!/usr/bin/env python3
"""Guest image: build from the installed kernel, reproducibility, rebuild on change, contents, and
boots under QEMU (TCG) with kata-conmon's own QEMU argv: a trivial init, then kata-agent's hello."""
import hashlib
import json
import glob
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

BUILDER = os.environ.get("KC_BUILD_IMAGE", "")
VM_ARGV = os.environ.get("KC_VM_ARGV", "")
TEST_INIT = os.environ.get("KC_TEST_INIT", "")
AGENT = os.environ.get("KC_AGENT", "")
BOOT_TIMEOUT = float(os.environ.get("KC_BOOT_TIMEOUT", "120"))

n = 0
failed = 0


def tap(ok, desc, diag=""):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print(("ok" if ok else "not ok") + f" {n} - {desc}", flush=True)
    if diag and not ok:
        for line in str(diag).splitlines()[-40:]:
            print("# " + line, flush=True)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def build(*args, env=None):
    e = dict(os.environ)
    e.pop("SOURCE_DATE_EPOCH", None)
    if env:
        e.update(env)
    return subprocess.run([BUILDER, *args], capture_output=True, text=True, env=e)


def manifest(d):
    m = {}
    with open(os.path.join(d, "manifest")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            m.setdefault(k, []).append(v)
    return m


def newc_entries(path):
    """Parses a newc archive: [(name, mode, uid, gid, mtime, data)]."""
    data = open(path, "rb").read()
    pos, out = 0, []
    while True:
        h = data[pos:pos + 110]
        if h[:6] != b"070701":
            raise ValueError(f"bad newc magic at {pos}")
        fields = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, uid, gid, mtime, size, namesize = fields[1], fields[2], fields[3], fields[5], fields[6], fields[11]
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        body = data[pos:pos + size]
        pos = (pos + size + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out.append((name, mode, uid, gid, mtime, body))


def modules_dep(moddir):
    deps = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            key, _, rest = line.partition(":")
            deps[key.strip()] = rest.split()
    return deps


class Vm:
    """QEMU started from kc-vm-argv's output with socketpairs for the console and the agent port."""

    def __init__(self, conf, sandbox_id, annotations=(), extra=()):
        self.agent_host, agent_qemu = socket.socketpair()
        self.console_host, console_qemu = socket.socketpair()
        cmd = [VM_ARGV, "--config", conf, "--sandbox-id", sandbox_id, "--accel", "tcg",
               "--agent-fd", str(agent_qemu.fileno()), "--console-fd", str(console_qemu.fileno())]
        for a in annotations:
            cmd += ["--annotation", a]
        cmd += list(extra)
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"kc-vm-argv failed: {r.stderr}")
        self.argv = r.stdout.split("\n")[:-1]
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv, pass_fds=[agent_qemu.fileno(), console_qemu.fileno()],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        agent_qemu.close()
        console_qemu.close()
        self.console = b""
        self.agent = b""

    def pump(self, until, timeout=BOOT_TIMEOUT):
        """Reads console and agent output until until(self) is true, QEMU exits, or the timeout."""
        deadline = time.monotonic() + timeout
        socks = [self.console_host, self.agent_host]
        while time.monotonic() < deadline and not until(self):
            r, _, _ = select.select(socks, [], [], 0.2)
            for s in r:
                d = s.recv(65536)
                if not d:
                    socks.remove(s)
                elif s is self.console_host:
                    self.console += d
                else:
                    self.agent += d
            if not r and self.proc.poll() is not None:
                break
        return until(self)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()
        self.agent_host.close()
        self.console_host.close()

    def diag(self):
        return (" ".join(self.argv) + "\n" + self.console.decode(errors="replace")[-3000:] +
                "\nagent: " + repr(self.agent[:300]))


def start_virtiofsd(sock, shared):
    """Starts the distribution's virtiofsd (Rust one on RHEL, C one in Debian's QEMU) on `sock`."""
    if os.access("/usr/libexec/virtiofsd", os.X_OK):
        cmd = ["/usr/libexec/virtiofsd", "--socket-path", sock, "--shared-dir", shared, "--cache", "auto"]
    elif os.access("/usr/lib/qemu/virtiofsd", os.X_OK):
        cmd = ["/usr/lib/qemu/virtiofsd", "--socket-path=" + sock, "-o", "source=" + shared, "-o", "cache=auto"]
    else:
        return None
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(sock) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not os.path.exists(sock):
        if p.poll() is None:
            p.kill()
        p.wait()
        return None
    return p


def tiny_elf(pvh):
    """A minimal ELF64 with one PT_NOTE segment holding a Xen note (type 18 = PVH entry, or 6)."""
    desc = struct.pack("<I", 0x1000000)
    note = struct.pack("<III", 4, len(desc), 18 if pvh else 6) + b"Xen\0" + desc
    ehdr_size, phdr_size = 64, 56
    note_off = ehdr_size + phdr_size
    ehdr = (b"\x7fELF\x02\x01\x01" + b"\0" * 9 +
            struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x1000000, ehdr_size, 0, 0, ehdr_size, phdr_size, 1, 64, 0, 0))
    phdr = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(note), len(note), 4)
    return ehdr + phdr + note + b"kc-synthetic-kernel" * 64


def fake_bzimage(payload):
    """A bzImage-shaped file: setup header (boot protocol 2.15) pointing at `payload`."""
    setup_sects = 1
    hdr = bytearray(512 * (setup_sects + 1))
    hdr[0x1F1] = setup_sects
    hdr[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", hdr, 0x206, 0x20F)
    pm = bytearray(256)  # protected-mode code before the payload
    struct.pack_into("<II", hdr, 0x248, len(pm), len(payload))
    return bytes(hdr) + bytes(pm) + payload + b"\0" * 64


def synthetic_kernels(tmp, init, moddir):
    elf = tiny_elf(True)
    compressors = {"gzip": ["gzip", "-n", "-9"], "xz": ["xz", "--check=crc32"], "zstd": ["zstd", "-q"],
                   "lz4": ["lz4", "-q", "-l"]}
    problems = []
    for name, cmd in compressors.items():
        if not shutil.which(cmd[0]):
            problems.append(f"{cmd[0]} is not installed")
            continue
        payload = subprocess.run(cmd, input=elf, capture_output=True, check=True).stdout
        if name != "gzip":  # the kernel build appends the decompressed size to all but gzip
            payload += struct.pack("<I", len(elf))
        path = os.path.join(tmp, f"bzImage-{name}")
        with open(path, "wb") as f:
            f.write(fake_bzimage(payload))
        out = os.path.join(tmp, f"synthetic-{name}")
        r = build("--kernel", path, "--modules-dir", moddir, "--init", init, "--output-dir", out)
        if r.returncode != 0 or open(os.path.join(out, "kernel"), "rb").read() != elf:
            problems.append(f"{name}: rc={r.returncode} {r.stderr.strip()}")
    # no PVH note: the bzImage itself is used, with a warning
    path = os.path.join(tmp, "bzImage-nopvh")
    bz = fake_bzimage(subprocess.run(["gzip", "-n"], input=tiny_elf(False), capture_output=True).stdout)
    with open(path, "wb") as f:
        f.write(bz)
    out = os.path.join(tmp, "synthetic-nopvh")
    r = build("--kernel", path, "--modules-dir", moddir, "--init", init, "--output-dir", out)
    if (r.returncode != 0 or "using the bzImage" not in r.stderr or
            open(os.path.join(out, "kernel"), "rb").read() != bz or manifest(out).get("kernel_format") != ["bzImage"]):
        problems.append(f"no-PVH fallback: rc={r.returncode} {r.stderr.strip()}")
    # neither bzImage nor ELF
    path = os.path.join(tmp, "garbage")
    with open(path, "wb") as f:
        f.write(os.urandom(4096))
    r = build("--kernel", path, "--modules-dir", moddir, "--init", init, "--output-dir", os.path.join(tmp, "g"))
    if r.returncode == 0 or "neither a bzImage nor an ELF vmlinux" not in r.stderr:
        problems.append(f"garbage kernel: rc={r.returncode} {r.stderr.strip()}")
    return (not problems, "PVH vmlinux extracted from gzip/xz/zstd/lz4 payloads; no note: bzImage; garbage: error",
            "\n".join(problems))


def first_frame(buf):
    if len(buf) < 12:
        return None
    magic, version, kind, fid, length = struct.unpack(">HBBII", buf[:12])
    if len(buf) < 12 + length:
        return None
    return magic, version, kind, fid, buf[12:12 + length]


def main():
    for name, path in (("KC_BUILD_IMAGE", BUILDER), ("KC_VM_ARGV", VM_ARGV), ("KC_TEST_INIT", TEST_INIT)):
        if not path or not os.access(path, os.X_OK):
            print("1..1")
            print(f"not ok 1 - prerequisite {name} ({path!r}) is not an executable")
            return 1
    if not shutil.which("qemu-system-x86_64") or not shutil.which("cpio"):
        print("1..1")
        print("not ok 1 - qemu-system-x86_64 and cpio are required (scripts/setup-debian.sh installs them)")
        return 1

    print("1..19", flush=True)
    tmp = tempfile.mkdtemp(prefix="kc-image-")
    try:
        run_tests(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        # Debian's virtiofsd leaves /run/virtiofsd/<socket path with / as .>.pid behind when killed.
        for f in glob.glob("/run/virtiofsd/" + glob.escape(tmp.replace("/", ".")) + "*.pid"):
            os.unlink(f)
    return 1 if failed else 0


def run_tests(tmp):
    out1, out2, out3 = (os.path.join(tmp, d) for d in ("out1", "out2", "out3"))
    init = os.path.join(tmp, "init")
    shutil.copy(TEST_INIT, init)

    # 1. build with the installed kernel (newest under /boot) and the trivial init
    t = time.monotonic()
    r = build("--init", init, "--output-dir", out1)
    build_time = time.monotonic() - t
    m = manifest(out1) if r.returncode == 0 else {}
    tap(r.returncode == 0 and os.path.getsize(os.path.join(out1, "initrd")) > 0,
        f"image builds from the installed kernel ({build_time:.1f} s)", r.stderr)
    if r.returncode != 0:
        return

    # 2. Debian's kernel has a PVH entry: the builder extracted an ELF vmlinux
    with open(os.path.join(out1, "kernel"), "rb") as f:
        elf = f.read(4) == b"\x7fELF"
    tap(elf and m.get("kernel_format") == ["vmlinux-pvh"], "kernel is the uncompressed vmlinux with a PVH note",
        json.dumps(m.get("kernel_format")))

    # 3. unchanged inputs: nothing is rebuilt
    st = {f: os.stat(os.path.join(out1, f)) for f in ("kernel", "initrd", "manifest")}
    r = build("--init", init, "--output-dir", out1)
    rc = build("--init", init, "--output-dir", out1, "--check")
    same = all(os.stat(os.path.join(out1, f)).st_ino == st[f].st_ino for f in st)
    tap(r.returncode == 0 and "up to date" in r.stdout and same and rc.returncode == 0,
        "second build with the same inputs is a no-op (--check: 0)", r.stdout + r.stderr + rc.stdout + rc.stderr)

    # 4. reproducible: a forced build elsewhere is byte-identical
    r = build("--init", init, "--output-dir", out2, "--force")
    tap(r.returncode == 0 and all(sha(os.path.join(out1, f)) == sha(os.path.join(out2, f))
                                  for f in ("kernel", "initrd", "manifest")),
        "two builds are byte-identical (kernel, initrd, manifest)", r.stderr)

    # 5. contents: cpio -t lists the sorted tree with the guest layout
    entries = newc_entries(os.path.join(out1, "initrd"))
    names = [e[0] for e in entries]
    listing = subprocess.run(["cpio", "-t", "--quiet", "-F", os.path.join(out1, "initrd")],
                             capture_output=True, text=True).stdout.split()
    want = ["init", "sbin/init", "lib/modules/kata-modules.load"]
    files = {e[0]: e for e in entries}
    stage0 = open(os.path.join(os.path.dirname(BUILDER), "kata-conmon-guest-init"), "rb").read()
    layout = (all(w in files for w in want) and files["init"][5] == stage0 and
              files["sbin/init"][5] == open(init, "rb").read() and files["init"][1] & 0o111)
    tap(listing == names and names == sorted(names) and layout,
        "cpio -t lists a sorted tree: /init is stage 0, /sbin/init the program, kata-modules.load",
        "\n".join(listing[:50]))

    # 6. fixed owners and times
    bad = [e[0] for e in entries if e[2] != 0 or e[3] != 0 or e[4] != 0]
    tap(not bad, "every entry is owned by 0:0 with mtime SOURCE_DATE_EPOCH (0)", " ".join(bad[:20]))

    # 7. modules: present, uncompressed; in groups ("@name" lines), each group holding its own
    # dependencies, listed before the modules that need them
    files = {e[0]: e for e in entries}
    lines = [line for line in files["lib/modules/kata-modules.load"][5].decode().splitlines() if line]
    moddir = m["modules_dir"][0]
    kver = os.path.basename(moddir)
    deps = modules_dep(moddir)
    problems = []
    groups, group = {}, None
    for line in lines:
        if line.startswith("@"):
            group = line[1:]
            if group in groups:
                problems.append(f"group {group} appears twice")
            groups[group] = []
        elif group is None:
            problems.append(f"{line} comes before the first group")
        else:
            groups[group].append(line)
    if list(groups)[:1] != ["boot"]:
        problems.append(f"the first group is not boot: {list(groups)}")
    modlist = sorted({p for g in groups.values() for p in g})
    for name, paths in groups.items():
        pos = {}
        for i, path in enumerate(paths):
            rel = path.lstrip("/")
            if rel not in files or not files[rel][5].startswith(b"\x7fELF"):
                problems.append(f"{path} missing or not an uncompressed ELF")
            pos[os.path.relpath(path, f"/lib/modules/{kver}")] = i
        for key, i in pos.items():
            for d in deps.get(key, [None]):
                if d is None:
                    problems.append(f"{key} not in modules.dep")
                elif pos.get(d.split(".ko")[0] + ".ko", 1 << 30) > i:
                    problems.append(f"@{name}: {key} listed before its dependency {d}")
    def names(g):
        return {os.path.basename(p).split(".ko")[0].replace("-", "_") for p in groups.get(g, [])}
    for g, req in (("boot", ("virtio_ring", "virtio", "virtio_mmio", "virtio_pci", "virtio_console")),
                   ("virtiofs", ("fuse", "virtiofs")), ("late", ("overlay",))):
        for r in req:
            if r not in names(g):
                problems.append(f"required module {r} missing from @{g}")
    tap(not problems and len(modlist) >= 8,
        f"{len(modlist)} modules in groups {' '.join(groups)}, each group after its own dependencies, "
        "in kata-modules.load", "\n".join(problems))

    # 8. rebuild on change: a different init
    with open(init, "ab") as f:
        f.write(b"\0changed")
    old_initrd = sha(os.path.join(out1, "initrd"))
    rc = build("--init", init, "--output-dir", out1, "--check")
    checked = rc.returncode == 3 and sha(os.path.join(out1, "initrd")) == old_initrd
    r = build("--init", init, "--output-dir", out1)
    m2 = manifest(out1) if r.returncode == 0 else {}
    tap(checked and r.returncode == 0 and "up to date" not in r.stdout and
        sha(os.path.join(out1, "initrd")) != old_initrd and m2.get("init") != m.get("init"),
        "changing an input (the init) rebuilds the image (--check before: 3, nothing written)",
        f"check rc={rc.returncode}\n" + r.stdout + r.stderr)

    # 9. rebuild on change: SOURCE_DATE_EPOCH
    r = build("--init", init, "--output-dir", out1, env={"SOURCE_DATE_EPOCH": "1700000000"})
    mt = {e[4] for e in newc_entries(os.path.join(out1, "initrd"))} if r.returncode == 0 else set()
    tap(r.returncode == 0 and mt == {1700000000}, "SOURCE_DATE_EPOCH sets every mtime (and rebuilds)", r.stderr)

    # 10. compressed initrd
    r = build("--init", init, "--output-dir", out3, "--compress", "gzip")
    with open(os.path.join(out3, "initrd"), "rb") if r.returncode == 0 else open(os.devnull, "rb") as f:
        magic = f.read(2)
    tap(r.returncode == 0 and magic == b"\x1f\x8b", "--compress gzip writes a gzip initrd", r.stderr)

    # 11. bad input fails with a clear message
    checks = [
        (["--kernel", "/nonexistent/vmlinuz", "--init", init], "is not a readable file"),
        (["--init", init, "--compress", "bogus"], "unknown compression"),
        (["--agent", "/nonexistent/kata-agent"], "is not an executable file"),
        (["--init", init, "--modules", "no_such_module_kc"], "no_such_module_kc"),
        (["--bogus"], "unknown argument"),
    ]
    errs = []
    for args, text in checks:
        r = build(*args, "--output-dir", os.path.join(tmp, "bad"))
        if r.returncode == 0 or text not in r.stderr:
            errs.append(f"{args}: rc={r.returncode} stderr={r.stderr.strip()}")
    tap(not errs, "bad input exits non-zero with a clear error", "\n".join(errs))

    # 12. kernel extraction from every payload compression; fallbacks
    tap(*synthetic_kernels(tmp, init, moddir))

    # 13-15. boot the trivial-init image with kata-conmon's QEMU argv (microvm, TCG, virtio-fs)
    r = build("--init", TEST_INIT, "--output-dir", out2)
    share = os.path.join(tmp, "share")
    os.mkdir(share)
    with open(os.path.join(share, "hello.txt"), "w") as f:
        f.write("hello-through-virtio-fs\n")
    vfs_sock = os.path.join(tmp, "virtiofsd.sock")
    vfsd = start_virtiofsd(vfs_sock, share)
    conf = os.path.join(tmp, "init.conf")
    with open(conf, "w") as f:
        f.write(f"[hypervisor.qemu]\nkernel={out2}/kernel\ninitrd={out2}/initrd\naccel=tcg\nshared_fs=virtio-fs\n"
                "default_memory=256\nenable_annotations=kernel_params\n")
    vm = None
    try:
        if vfsd is None:
            for what in ("trivial init runs", "modules, agent port, virtio-fs", "power off"):
                tap(False, what, "virtiofsd did not start (see /usr/lib/qemu/virtiofsd or /usr/libexec/virtiofsd)")
        else:
            vm = Vm(conf, "kc-image-init",
                    ["io.katacontainers.config.hypervisor.kernel_params=kctest.modules=1 kctest.fs=virtiofs "
                     "kctest.pivot=1"],
                    extra=["--virtiofs-socket", vfs_sock])
            ok = vm.pump(lambda v: b"KC-TEST-INIT-MARKER" in v.console)
            tap(ok, f"trivial init runs under QEMU TCG ({time.monotonic() - vm.t0:.1f} s)", vm.diag())
            ok = vm.pump(lambda v: b"KC-TEST-INIT: all good" in v.console and b"KC-TEST-INIT-PORT-OK" in v.agent)
            ok = ok and b"shared says 'hello-through-virtio-fs'" in vm.console and b"pivot_root ok" in vm.console
            tap(ok, "the guest loads every module in order, finds agent.channel.0, reads kataShared (virtio-fs) "
                "and can pivot_root (stage-0 /init)", vm.diag())
            rc = vm.wait_exit(30)
            tap(rc == 0, f"the guest powers off and QEMU exits 0 (rc={rc})", vm.diag())
    finally:
        if vm:
            vm.close()
        if vfsd:
            if vfsd.poll() is None:
                vfsd.kill()
            vfsd.wait()

    # 16. the other machine and shared fs: q35 (PCI, SeaBIOS) with 9p
    conf = os.path.join(tmp, "q35.conf")
    with open(conf, "w") as f:
        f.write(f"[hypervisor.qemu]\nkernel={out2}/kernel\ninitrd={out2}/initrd\naccel=tcg\nmachine_type=q35\n"
                "shared_fs=virtio-9p\ndefault_memory=256\nenable_annotations=kernel_params\n")
    with open(os.path.join(share, "hello.txt"), "w") as f:
        f.write("hello-through-9p\n")
    vm = Vm(conf, "kc-image-q35", ["io.katacontainers.config.hypervisor.kernel_params=kctest.modules=1 kctest.fs=9p"],
            extra=["--shared-dir", share])
    try:
        ok = vm.pump(lambda v: b"KC-TEST-INIT: all good" in v.console and b"KC-TEST-INIT-PORT-OK" in v.agent)
        ok = ok and b"shared says 'hello-through-9p'" in vm.console
        rc = vm.wait_exit(30) if ok else None
        tap(ok and rc == 0, f"q35 + virtio-9p: modules, agent port over PCI, kataShared over 9p, power off "
            f"({time.monotonic() - vm.t0:.1f} s)", vm.diag())
    finally:
        vm.close()

    # 17-19. kata-agent image: boot to the agent's hello
    if not AGENT or not os.access(AGENT, os.X_OK):
        for what in ("image with kata-agent builds", "kata-agent says hello", "hello is protocol 1"):
            tap(False, what, f"KC_AGENT ({AGENT!r}) is not an executable: build runtime/agent")
        return
    out4 = os.path.join(tmp, "agent")
    r = build("--agent", AGENT, "--output-dir", out4)
    listing = newc_entries(os.path.join(out4, "initrd")) if r.returncode == 0 else []
    names = {e[0] for e in listing}
    tap(r.returncode == 0 and {"init", "usr/bin/crun", "lib/modules/kata-modules.load"} <= names,
        "image with kata-agent and crun builds", r.stderr)
    if r.returncode != 0:
        return
    conf = os.path.join(tmp, "agent.conf")
    with open(conf, "w") as f:
        f.write(f"[hypervisor.qemu]\nkernel={out4}/kernel\ninitrd={out4}/initrd\naccel=tcg\nshared_fs=none\n"
                "default_memory=512\n")
    vm = Vm(conf, "kc-image-agent")
    try:
        ok = vm.pump(lambda v: first_frame(v.agent) is not None)
        frame = first_frame(vm.agent)
        tap(ok, f"kata-agent sends its first frame ({time.monotonic() - vm.t0:.1f} s after QEMU start)", vm.diag())
        hello = {}
        if frame:
            try:
                hello = json.loads(frame[4])
            except ValueError:
                pass
        tap(frame is not None and frame[:4] == (0x4B43, 1, 3, 0) and hello.get("type") == "hello"
            and hello.get("protocol") == 1 and hello.get("kernel") == kver,
            "first frame is the hello event, protocol 1, guest kernel = the image's", repr(frame) + vm.diag())
    finally:
        vm.close()


if __name__ == "__main__":
    sys.exit(main())
