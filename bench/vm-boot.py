#!/usr/bin/env python3
"""VM boot benchmark: QEMU start to kata-agent's hello, against the raw boot of the same kernel and initrd
to a trivial init that prints a marker and powers off. Same QEMU command line (kata-conmon's argv builder)
for both; prints a markdown table (median/p90 seconds), the initrd size and the image build time.

Usage: bench/vm-boot.py [--build-dir build] [-n 5] [--accel tcg] [--compress none,gzip,zstd,lz4]
                        [--memory 512] [--kernel /boot/vmlinuz-...]
"""
import argparse
import json
import math
import os
import select
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = b"KC-TEST-INIT-MARKER"


def die(msg):
    print(f"vm-boot: {msg}", file=sys.stderr)
    sys.exit(1)


def p90(values):
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def find_tools(build_dir):
    tools = {
        "builder": os.path.join(build_dir, "runtime/guest/kata-conmon-build-image"),
        "argv": os.path.join(build_dir, "runtime/lib/vm/kc-vm-argv"),
        "agent": os.path.join(build_dir, "runtime/agent/kata-agent"),
    }
    for name, path in tools.items():
        if not os.access(path, os.X_OK):
            die(f"{path} not found: build the tree first (meson setup {build_dir} && ninja -C {build_dir})")
    return tools


def static_test_init(build_dir, tmp):
    built = os.path.join(build_dir, "tests/integration/image/kc-test-init")
    if os.access(built, os.X_OK):
        return built
    out = os.path.join(tmp, "kc-test-init")
    src = os.path.join(TOP, "tests/integration/image/kc-test-init.c")
    r = subprocess.run(["cc", "-D_GNU_SOURCE", "-static", "-O2", "-o", out, src], capture_output=True, text=True)
    if r.returncode != 0:
        die(f"cannot build the trivial init (needs a static libc): {r.stderr}")
    return out


COMPRESSORS = {"none": "cat", "gzip": "gzip -n -9", "zstd": "zstd -q -19", "xz": "xz --check=crc32", "lz4": "lz4 -q -l -9"}


def append_cpio(initrd, init, out, comp):
    """The same initrd plus one more newc archive holding /kc-test-init, compressed the same way (the
    kernel unpacks both; a raw archive after an lz4 stream would be taken for an lz4 chunk)."""
    stage = tempfile.mkdtemp(prefix="kc-bench-stage-")
    try:
        shutil.copy(init, os.path.join(stage, "kc-test-init"))
        extra = subprocess.run(f"echo kc-test-init | cpio --quiet -o -H newc -R 0:0 | {COMPRESSORS[comp]}",
                               shell=True, cwd=stage, capture_output=True, check=True).stdout
    finally:
        shutil.rmtree(stage)
    with open(out, "wb") as f, open(initrd, "rb") as src:
        shutil.copyfileobj(src, f)
        f.write(extra)


def boot(argv_tool, conf, sandbox_id, accel, done, kernel_params=None, timeout=180):
    """Starts QEMU, returns seconds until done(console, agent) is true (None on timeout/exit)."""
    agent_host, agent_qemu = socket.socketpair()
    console_host, console_qemu = socket.socketpair()
    cmd = [argv_tool, "--config", conf, "--sandbox-id", sandbox_id, "--accel", accel,
           "--agent-fd", str(agent_qemu.fileno()), "--console-fd", str(console_qemu.fileno())]
    if kernel_params:
        cmd += ["--annotation", f"io.katacontainers.config.hypervisor.kernel_params={kernel_params}"]
    argv = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split("\n")[:-1]
    t0 = time.monotonic()
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, pass_fds=[agent_qemu.fileno(), console_qemu.fileno()],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    agent_qemu.close()
    console_qemu.close()
    console, agent, elapsed = b"", b"", None
    socks = [console_host, agent_host]
    try:
        while time.monotonic() - t0 < timeout:
            r, _, _ = select.select(socks, [], [], 0.05)
            for s in r:
                d = s.recv(65536)
                if not d:
                    socks.remove(s)
                elif s is console_host:
                    console += d
                else:
                    agent += d
            if done(console, agent):
                elapsed = time.monotonic() - t0
                break
            if not r and proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        agent_host.close()
        console_host.close()
    if elapsed is None:
        err.seek(0)
        sys.stderr.write(f"vm-boot: {sandbox_id} failed after {time.monotonic() - t0:.1f} s, QEMU status "
                         f"{proc.returncode}: {err.read().decode(errors='replace').strip()}\n"
                         + console.decode(errors="replace")[-2000:] + "\n")
    err.close()
    return elapsed


def hello_seen(console, agent):
    if len(agent) < 12:
        return False
    magic, version, kind, _, length = struct.unpack(">HBBII", agent[:12])
    if len(agent) < 12 + length:
        return False
    if (magic, version, kind) != (0x4B43, 1, 3) or json.loads(agent[12:12 + length]).get("type") != "hello":
        die(f"first agent frame is not hello: {agent[:12 + length]!r}")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(TOP, "build"))
    ap.add_argument("-n", type=int, default=5, help="repetitions of each boot")
    ap.add_argument("--accel", default="tcg", choices=["tcg", "kvm", "auto"])
    ap.add_argument("--compress", default="none", help="initrd compressions to compare, comma-separated")
    ap.add_argument("--memory", type=int, default=512, help="guest MiB")
    ap.add_argument("--machine", default="microvm", choices=["microvm", "q35"])
    ap.add_argument("--kernel", help="kernel to build from (default: newest under /boot)")
    args = ap.parse_args()
    if args.n < 1:
        die("-n must be at least 1")
    for comp in args.compress.split(","):
        if comp not in COMPRESSORS:
            die(f"--compress: unknown compression '{comp}' ({', '.join(COMPRESSORS)})")

    tools = find_tools(os.path.abspath(args.build_dir))
    tmp = tempfile.mkdtemp(prefix="kc-bench-")
    rows, info = [], []
    try:
        init = static_test_init(os.path.abspath(args.build_dir), tmp)
        for comp in [c for c in args.compress.split(",") if c]:
            out = os.path.join(tmp, f"img-{comp}")
            cmd = [tools["builder"], "--agent", tools["agent"], "--output-dir", out, "--compress", comp, "--force",
                   "--quiet"]
            if args.kernel:
                cmd += ["--kernel", args.kernel]
            t = time.monotonic()
            r = subprocess.run(cmd, capture_output=True, text=True)
            build_time = time.monotonic() - t
            if r.returncode != 0:
                die(f"image build failed: {r.stderr}")
            initrd = os.path.join(out, "initrd")
            raw_initrd = os.path.join(out, "initrd-raw")
            append_cpio(initrd, init, raw_initrd, comp)
            fmt = [line.split("=", 1)[1] for line in open(os.path.join(out, "manifest")) if
                   line.startswith("kernel_format=")][0]
            info.append(f"- initrd ({comp}): {os.path.getsize(initrd)} bytes "
                        f"({os.path.getsize(initrd) / 1048576:.1f} MiB), kernel {fmt.strip()} "
                        f"{os.path.getsize(os.path.join(out, 'kernel')) / 1048576:.1f} MiB, "
                        f"image build time {build_time:.2f} s")

            confs = {}
            for kind, rd in (("agent", initrd), ("raw", raw_initrd)):
                confs[kind] = os.path.join(tmp, f"{comp}-{kind}.conf")
                with open(confs[kind], "w") as f:
                    f.write(f"[hypervisor.qemu]\nkernel={out}/kernel\ninitrd={rd}\nmachine_type={args.machine}\n"
                            f"shared_fs=none\ndefault_memory={args.memory}\nenable_annotations=kernel_params\n")
            times = {"raw": [], "agent": []}
            failures = {"raw": 0, "agent": 0}
            for i in range(args.n):
                # alternate, so that load changes on the machine hit both the same way
                t = boot(tools["argv"], confs["raw"], f"bench-raw-{i}", args.accel,
                         lambda c, a: MARKER in c, kernel_params="rdinit=/kc-test-init")
                if t is None:
                    failures["raw"] += 1
                else:
                    times["raw"].append(t)
                t = boot(tools["argv"], confs["agent"], f"bench-agent-{i}", args.accel, hello_seen)
                if t is None:
                    failures["agent"] += 1
                else:
                    times["agent"].append(t)
            if not times["raw"] or not times["agent"]:
                die(f"every boot failed ({comp}): raw {failures['raw']}, agent {failures['agent']}")
            raw_med = statistics.median(times["raw"])
            for kind, label in (("raw", "raw boot → trivial init marker"), ("agent", "VM start → kata-agent hello")):
                v = times[kind]
                rows.append(f"| {label} | {comp} | {len(v)} | {failures[kind]} | {statistics.median(v):.2f} | "
                            f"{p90(v):.2f} | {min(v):.2f} | {max(v):.2f} | {statistics.median(v) / raw_med:.2f}× |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"## VM boot ({args.machine}, accel={args.accel}, {args.memory} MiB, 1 vCPU, shared_fs=none)\n")
    print("| boot | initrd | runs | failed | median (s) | p90 (s) | min (s) | max (s) | vs raw |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print()
    print("\n".join(info))
    print("\nTarget: kata-agent hello ≤ 1.1× the raw boot (median).")


if __name__ == "__main__":
    main()
