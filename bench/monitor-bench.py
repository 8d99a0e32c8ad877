#!/usr/bin/env python3
"""Benchmark: Debian's conmon vs kata-conmon with runc, in one run, printed as a markdown table.
Usage: bench/monitor-bench.py [--kata-conmon PATH] [--conmon PATH] [-n N] [--lines L]"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import kccrio  # noqa: E402
import kcoci  # noqa: E402
import kctest  # noqa: E402

LINE = "x" * 63  # 64 bytes per line with the newline


def pct(values, p):
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def spawn_once(h):
    c = h.create(kctest.new_cid(), ["sleep", "60"])
    if not c.pid:
        raise RuntimeError(f"create failed: {c.sync} {c.parent_err!r}")
    ms = c.spawn_ms
    h.runc.run("delete", "--force", c.cid)
    c.wait_exit(timeout=10, reap_timeout=5)
    c.close()
    return ms


def memory(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon"):
                out[k] = int(v.split()[0])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Private_Dirty", "Pss"):
                out[k] = int(v.split()[0])
    return out


def throughput_once(h, lines):
    c = h.create(kctest.new_cid(), ["sh", "-c", f"yes {LINE} | head -n {lines}"])
    t0 = time.monotonic()
    c.start()
    txt = c.wait_exit(timeout=120)
    secs = time.monotonic() - t0
    if txt != "0":
        raise RuntimeError(f"throughput container exit file {txt!r}")
    n = (c.log_text() or "").count(" stdout F " + LINE)
    if n < lines * 0.99:
        raise RuntimeError(f"only {n} of {lines} lines logged")
    os.unlink(c.log)
    c.close()
    return lines * 64 / secs / 1e6, lines / secs


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    ap.add_argument("--kata-conmon", default=os.environ.get(
        "KC_CONMON", os.path.join(top, "build", "kata-conmon", "kata-conmon")))
    ap.add_argument("--conmon", default=os.environ.get("KC_REF_CONMON", "/usr/bin/conmon"))
    ap.add_argument("-n", type=int, default=20, help="repetitions of the spawn measurement")
    ap.add_argument("--idle", type=int, default=5, help="idle monitors measured for memory")
    ap.add_argument("--lines", type=int, default=2000000, help="lines per throughput run")
    ap.add_argument("--throughput-runs", type=int, default=3)
    a = ap.parse_args()
    mons = {"conmon": kcoci.require_exe(a.conmon, "Debian conmon"),
            "kata-conmon": kcoci.require_exe(a.kata_conmon, "kata-conmon (build it first)")}
    ver = {k: kccrio.subprocess.run([v, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
           for k, v in mons.items()}
    env = kctest.Env("kc-bench-")
    hs = {k: kccrio.Harness(v, os.path.join(env.base, k), env.rootfs, env.runc) for k, v in mons.items()}
    for h in hs.values():
        os.makedirs(h.base, exist_ok=True)
    res = {k: {} for k in mons}
    t_start = time.monotonic()
    try:
        spawn = {k: [] for k in mons}
        for k in mons:  # warm-up: page cache, runc binary
            spawn_once(hs[k])
        for _ in range(a.n):
            for k in mons:
                spawn[k].append(spawn_once(hs[k]))
        for k in mons:
            res[k]["spawn_med"] = statistics.median(spawn[k])
            res[k]["spawn_p90"] = pct(spawn[k], 90)

        for k in mons:
            idle = []
            for _ in range(a.idle):
                c = hs[k].create(kctest.new_cid(), ["sleep", "600"])
                c.start()
                idle.append(c)
            time.sleep(0.5)
            mem = [memory(c.monitor_pid) for c in idle]
            for key in ("VmRSS", "RssAnon", "Private_Dirty", "Pss"):
                res[k][key] = statistics.median(m.get(key, 0) for m in mem)
            for c in idle:
                hs[k].runc.run("kill", c.cid, "KILL", check=False)
            for c in idle:
                c.wait_exit(timeout=10, reap_timeout=5)
                c.close()

        tp = {k: [] for k in mons}
        for _ in range(a.throughput_runs):
            for k in mons:
                tp[k].append(throughput_once(hs[k], a.lines))
        for k in mons:
            res[k]["mbps"] = statistics.median(x[0] for x in tp[k])
            res[k]["lps"] = statistics.median(x[1] for x in tp[k])
    finally:
        for h in hs.values():
            h.cleanup()
        env.close()

    rows = [
        (f"spawn → pid on sync pipe, median (ms, n={a.n})", "spawn_med", "{:.1f}"),
        (f"spawn → pid on sync pipe, p90 (ms, n={a.n})", "spawn_p90", "{:.1f}"),
        (f"VmRSS per idle monitor (kB, median of {a.idle})", "VmRSS", "{:.0f}"),
        ("RssAnon per idle monitor (kB)", "RssAnon", "{:.0f}"),
        ("Private_Dirty per idle monitor (kB, smaps_rollup)", "Private_Dirty", "{:.0f}"),
        ("Pss per idle monitor (kB, smaps_rollup)", "Pss", "{:.0f}"),
        (f"k8s-file log throughput (MB/s, {a.lines} x 64 B lines, median of {a.throughput_runs})",
         "mbps", "{:.1f}"),
        ("k8s-file log throughput (lines/s)", "lps", "{:.0f}"),
    ]
    print(f"| metric | Debian conmon (`{ver['conmon']}`) | kata-conmon (reports `{ver['kata-conmon']}`) |")
    print("|---|---:|---:|")
    for label, key, fmt in rows:
        print(f"| {label} | {fmt.format(res['conmon'][key])} | {fmt.format(res['kata-conmon'][key])} |")
    print(f"\nruntime: runc ({kcoci.RUNC}); total {time.monotonic() - t_start:.0f} s; "
          f"{os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M %Z')}")


if __name__ == "__main__":
    main()
