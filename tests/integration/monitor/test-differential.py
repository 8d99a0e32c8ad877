#!/usr/bin/env python3
"""Differential test: the same CRI-O scenarios through Debian's conmon 2.1.6 and through ours;
sync-pipe JSON, exit files, log records (minus timestamps) and journald fields must agree."""
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("KC_SOURCE_DIR", os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "../../..")), "tests/lib"))
import kccrio  # noqa: E402
import kcjournald  # noqa: E402
import kcoci  # noqa: E402
import kctest  # noqa: E402
from kctest import new_cid  # noqa: E402


def shape(msgs):
    """JSON messages with their value types (and the values that are not PIDs)."""
    out = []
    for m in msgs:
        d = {}
        for k, v in m.items():
            d[k] = type(v).__name__ if (k == "pid" and isinstance(v, int) and v > 0) else v
        out.append(d)
    return out


def records(text):
    try:
        recs = kctest.parse_log(text)
    except ValueError as e:
        return f"unparsable: {e}"
    return {"stdout": [r[1:] for r in recs if r[0] == "stdout"],
            "stderr": [r[1:] for r in recs if r[0] == "stderr"]}


def joined_records(text):
    """Log records with P fragments joined to the record that completes them: the pty line
    discipline may hand one line over in two reads, whatever the monitor."""
    recs = records(text)
    if isinstance(recs, str):
        return recs
    out = {}
    for stream, rs in recs.items():
        lines, cur = [], ""
        for tag, txt in rs:
            cur += txt
            if tag == "F":
                lines.append(("F", cur))
                cur = ""
        if cur:
            lines.append(("P", cur))
        out[stream] = lines
    return out


def scrub(s, c):
    s = s.replace(c.cid, "<cid>").replace(c.cid[:12], "<cid12>")
    s = re.sub(r'time=\\"[^"\\]*\\"', 'time=<t>', s)
    s = re.sub(r'time="[^"]*"', 'time=<t>', s)
    return s.replace(c.h.base, "<base>")


def s_lifecycle(h):
    out = {}
    prog = ("echo out1; echo err1 >&2; sleep 0.1; printf 'a\\nb\\n'; sleep 0.1; printf part; "
            "sleep 0.1; echo ' tail'; sleep 0.1; printf end; exit 3")
    c = h.create(new_cid(), ["sh", "-c", prog])
    out["create parent rc"] = c.parent_rc
    out["create sync"] = shape([json.loads(x) for x in c.sync])
    c.start()
    out["exit file"] = c.wait_exit()
    out["persist exit"] = kccrio.read_text(c.persist_exit)
    out["monitor rc"] = c.monitor_exit_code()
    out["log records"] = records(c.log_text())
    out["persist dir"] = sorted(os.listdir(c.persist))
    out["bundle dir"] = sorted(x for x in os.listdir(c.bundle))

    c = h.create(new_cid(), ["sleep", "60"])
    c.start()
    os.kill(c.pid, signal.SIGKILL)
    out["SIGKILL exit file"] = c.wait_exit()
    out["SIGKILL monitor rc"] = c.monitor_exit_code()

    c = h.create(new_cid(), ["sh", "-c", "exit 0"])
    c.start()
    out["exit 0 file"] = c.wait_exit()
    out["exit 0 log"] = c.log_text()

    c = h.create(new_cid(), ["sh", "-c", "printf 'a\\nb\\n'; sleep 0.1; echo err >&2; sleep 0.1; "
                            "printf c; exit 2"], terminal=True)
    out["tty sync"] = shape([json.loads(x) for x in c.sync])
    s = kctest.attach(c.attach_path)
    c.start()
    pk, eof = kctest.recv_until(s, lambda p: False, timeout=5)
    s.close()
    out["tty exit file"] = c.wait_exit()
    out["tty log lines"] = joined_records(c.log_text())
    out["tty attach stream ids"] = sorted({p[:1] for p in pk})
    out["tty attach bytes"] = b"".join(p[1:] for p in pk)
    out["tty attach eof"] = eof

    c = h.create(new_cid(), None, bundle_args=["/nope"])
    out["create failure parent rc"] = c.parent_rc
    msgs = [json.loads(x) for x in c.sync]
    out["create failure sync"] = [{k: (scrub(v, c) if isinstance(v, str) else v)
                                   for k, v in m.items()} for m in msgs]
    c.wait_monitor()
    out["create failure monitor rc"] = c.monitor_exit_code()
    out["create failure exit file"] = os.path.exists(c.exit_file)

    c = h.create(new_cid(), ["sleep", "60"])
    c.start()
    r = h.exec_sync(c, ["sh", "-c", "echo a; echo b >&2; printf c; exit 5"])
    out["exec msgs"] = r["msgs"]
    out["exec rc"] = r["rc"]
    out["exec log"] = records(r["log"])
    r = h.exec_sync(c, ["sleep", "30"], timeout_s=1)
    out["exec timeout msgs"] = r["msgs"]
    out["exec timeout rc"] = r["rc"]
    out["exec timeout log"] = r["log"]
    r = h.exec_sync(c, ["sh", "-c", "tty; echo x >&2; exit 6"], terminal=True)
    out["exec -t msgs"] = r["msgs"]
    out["exec -t log lines"] = joined_records(r["log"])
    r = h.exec_sync(c, ["/nope"])
    out["exec missing binary rc"] = r["rc"]
    out["exec missing binary msgs"] = [{k: (type(v).__name__ if k == "message" else v)
                                        for k, v in m.items()} for m in r["msgs"]]
    h.runc.run("kill", c.cid, "KILL")
    out["exec container exit file after kill"] = c.wait_exit()
    return out


JOURNAL_FIELDS_COMPARED = ("MESSAGE", "PRIORITY", "CONTAINER_ID", "CONTAINER_ID_FULL", "CONTAINER_NAME",
                           "CONTAINER_TAG", "SYSLOG_IDENTIFIER", "CONTAINER_PARTIAL_MESSAGE")


def s_journald(h, jd):
    out = {}
    for tag in (None, "mytag"):
        cid = new_cid()
        log = os.path.join(h.base, cid[:8] + ".log")
        extra = ["--log-tag", tag] if tag else []
        c = h.create(cid, ["sh", "-c", "printf 'one\\ntwo\\n'; sleep 0.1; echo err >&2; sleep 0.1; "
                           "printf partial"], log_paths=["journald:", "k8s-file:" + log],
                     name="jname", extra=extra)
        out[f"tag={tag} sync"] = shape([json.loads(x) for x in c.sync])
        c.start()
        out[f"tag={tag} exit"] = c.wait_exit()
        out[f"tag={tag} k8s-file"] = records(kccrio.read_text(log))
        ents = jd.wait_entries(4, f"CONTAINER_ID_FULL={cid}")
        user = []
        names = set()
        for e in ents:
            names |= {k for k in e if not k.startswith("_")}
            user.append({k: scrub(e[k], c) for k in JOURNAL_FIELDS_COMPARED if k in e})
        out[f"tag={tag} journal entries"] = sorted(user, key=lambda d: (d.get("MESSAGE", ""),
                                                                      d.get("PRIORITY", "")))
        out[f"tag={tag} journal field names"] = sorted(names)
    return out


def run(tap):
    kcjournald.reexec_in_mount_ns()
    mon = kctest.monitor_from_env(tap)
    ref = os.environ.get("KC_REF_CONMON", "/usr/bin/conmon")
    if not mon:
        return
    kcoci.require_exe(ref, "reference conmon (Debian package conmon)")
    if kctest.is_reference(mon):
        tap.diag("KC_CONMON is the reference conmon: comparing it with itself")
    env = kctest.Env("kc-diff-")
    jd = kcjournald.Journald(env.base)
    hs = []
    try:
        jd.start()
        results = {}
        for label, exe in (("conmon", ref), ("ours", mon)):
            h = kccrio.Harness(exe, os.path.join(env.base, label), env.rootfs, env.runc)
            hs.append(h)
            os.makedirs(h.base, exist_ok=True)
            results[label] = {}
            t0 = time.monotonic()
            with tap.case(f"{label}: lifecycle scenarios"):
                results[label].update(s_lifecycle(h))
            t1 = time.monotonic()
            with tap.case(f"{label}: journald scenarios"):
                results[label].update(s_journald(h, jd))
            tap.diag(f"{label}: lifecycle {t1 - t0:.1f} s, journald {time.monotonic() - t1:.1f} s")
        if os.environ.get("KC_VERBOSE"):
            tap.diag(json.dumps(results["conmon"], indent=1, default=repr))
        a, b = results["conmon"], results["ours"]
        tap.ok(len(a) > 20, "reference run produced its observations", f"{sorted(a)}")
        for k in a:
            tap.ok(k in b and a[k] == b[k], f"same {k}",
                   f"conmon: {a[k]!r}\n  ours: {b.get(k, '<missing>')!r}")
        # Sanity: the reference observations are what the contract says (a test that can fail).
        tap.eq(a.get("exit file"), "3", "reference: exit file 3")
        tap.ok(any(e.get("CONTAINER_PARTIAL_MESSAGE") == "true"
                   for e in a.get("tag=None journal entries", [])), "reference: partial journald entry")
    finally:
        for h in hs:
            h.cleanup()
        jd.stop()
        env.check_sanitizers(tap)
        env.close()


if __name__ == "__main__":
    kctest.main(run)
