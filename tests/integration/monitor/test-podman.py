#!/usr/bin/env python3
"""podman 4.3.1 with --conmon <monitor> --runtime runc, private storage and containers.conf,
a busybox image imported from a rootfs; journald log driver checked in a private journald."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("KC_SOURCE_DIR", os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "../../..")), "tests/lib"))
import kcjournald  # noqa: E402
import kcoci  # noqa: E402
import kcpodman  # noqa: E402
import kctest  # noqa: E402

IMG = "localhost/kcbb:latest"


def exe_of(pid):
    try:
        return os.path.realpath(f"/proc/{pid}/exe")
    except OSError:
        return None


def scenarios(tap, p, jd, mon):
    r = p.run("run", "--rm", IMG, "echo", "hello from podman")
    tap.eq((r.returncode, r.stdout), (0, "hello from podman\n"), "run --rm: output", )
    if r.returncode:
        tap.diag(r.stderr)
    r = p.run("run", "--rm", IMG, "sh", "-c", "echo to-err >&2; exit 42")
    tap.eq((r.returncode, r.stderr), (42, "to-err\n"), "run: exit code 42 and stderr")

    r = p.run("run", "-d", "--name", "d1", IMG, "sh", "-c",
              "echo one; sleep 0.1; echo two >&2; exec sleep 300")
    tap.eq(r.returncode, 0, "run -d", r.stderr)
    r = p.run("inspect", "--format", "{{.State.ConmonPid}} {{.State.Pid}} {{.State.Status}}", "d1")
    f = r.stdout.split()
    tap.ok(len(f) == 3 and exe_of(f[0]) == os.path.realpath(mon),
           "run -d: the container's monitor process is the binary under test",
           f"inspect: {r.stdout!r} {r.stderr!r} exe: {exe_of(f[0]) if f else None}")
    tap.ok(len(f) == 3 and f[2] == "running" and kcoci.pid_alive(int(f[1])), "run -d: running")
    kcoci.wait_for(lambda: "two" in p.run("logs", "d1").stderr, 5)
    r = p.run("logs", "d1")
    tap.eq((r.stdout, r.stderr), ("one\n", "two\n"), "logs: stdout and stderr kept apart")
    for code in (0, 1, 42):
        r = p.run("exec", "d1", "sh", "-c", f"echo exec{code}; exit {code}")
        tap.eq((r.returncode, r.stdout), (code, f"exec{code}\n"), f"exec: exit code {code}, output",
               r.stderr)
    r = p.run("exec", "-i", "d1", "sh", "-c", "read l; echo in:$l", input="piped\n")
    tap.eq(r.stdout, "in:piped\n", "exec -i: stdin reaches the exec'd process")
    r = p.run("exec", "-t", "d1", "tty")
    tap.eq((r.returncode, r.stdout), (0, "/dev/pts/0\n"), "exec -t: stdio is a pty")

    r = p.run("run", "-d", "-i", "--name", "a1", IMG, "sh", "-c", "read l; echo got:$l; exit 3")
    tap.eq(r.returncode, 0, "run -d -i", r.stderr)
    r = p.run("attach", "a1", input="over-attach\n", timeout=30)
    tap.ok("got:over-attach" in r.stdout, "attach: stdin in, stdout out",
           f"rc {r.returncode} out {r.stdout!r} err {r.stderr!r}")
    r = p.run("wait", "a1")
    tap.eq(r.stdout.strip(), "3", "attach: container exit code 3 after the attach")

    r = p.run("run", "--rm", "-t", IMG, "sh", "-c", "tty; echo done")
    tap.eq((r.returncode, r.stdout), (0, "/dev/pts/0\ndone\n"), "run -t: stdio is a pty")

    r = p.run("stop", "-t", "1", "d1")
    tap.eq(r.returncode, 0, "stop", r.stderr)
    r = p.run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "d1")
    tap.eq(r.stdout.strip(), "exited 137", "stop: exited, 137 (SIGTERM ignored by pid 1, then KILL)")

    p.run("run", "-d", "--name", "k1", IMG, "sleep", "300")
    r = p.run("kill", "k1")
    tap.eq(r.returncode, 0, "kill", r.stderr)
    r = p.run("wait", "k1")
    tap.eq(r.stdout.strip(), "137", "kill: wait says 137")

    r = p.run("run", "-d", "--name", "w1", IMG, "sh", "-c", "sleep 0.3; echo waited; exit 7")
    r = p.run("wait", "w1")
    tap.eq(r.stdout.strip(), "7", "run -d then wait: exit code 7")
    r = p.run("logs", "w1")
    tap.eq(r.stdout, "waited\n", "run -d then wait: logs after exit")
    mp = p.run("inspect", "--format", "{{.State.ConmonPid}}", "w1").stdout.strip()
    tap.ok(mp in ("", "0") or not kcoci.pid_alive(int(mp)), "the monitor exited with the container")

    r = p.run("run", "--rm", "-i", IMG, "sh", "-c", "cat; echo end", input="abc\n")
    tap.eq((r.returncode, r.stdout), (0, "abc\nend\n"), "run -i: stdin piped through, EOF delivered")
    r = p.run("run", "--name", "t1", "--timeout", "1", IMG, "sleep", "10")
    tap.eq(r.returncode, 255, "run --timeout 1: killed, podman exits 255")
    r = p.run("inspect", "--format", "{{.State.ExitCode}} {{.State.Status}}", "t1")
    tap.eq(r.stdout.strip(), "-1 exited", "run --timeout: exit code -1 (timed out)")
    r = p.run("start", "-a", "w1")
    tap.eq((r.returncode, r.stdout), (7, "waited\n"), "start -a: an exited container runs again")
    r = p.run("logs", "w1")
    tap.eq(r.stdout, "waited\nwaited\n", "start -a: the log holds both runs")
    r = p.run("run", "-d", "--name", "m1", "--log-opt", "max-size=1k", IMG, "sh", "-c",
              "i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done")
    p.run("wait", "m1")
    lp = p.run("inspect", "--format", "{{.HostConfig.LogConfig.Path}}", "m1").stdout.strip()
    size = os.path.getsize(lp) if lp and os.path.exists(lp) else None
    tap.ok(size is not None and 0 < size <= 1024, "--log-opt max-size=1k: log file stays <= 1 KiB",
           f"{lp}: {size}")
    r = p.run("logs", "m1")
    tap.ok(r.stdout.endswith("line199\n") and "line0\n" not in r.stdout,
           "--log-opt max-size: the newest lines are kept", r.stdout[-200:])

    r = p.run("rm", "d1", "k1", "w1", "a1", "t1", "m1")
    tap.eq(r.returncode, 0, "rm", r.stderr)
    r = p.run("ps", "-a", "-q")
    tap.eq(r.stdout, "", "rm: no container left")

    name = "jd" + kctest.new_cid()[:8]
    r = p.run("run", "--rm", "--name", name, "--log-driver", "journald", IMG, "sh", "-c",
              "echo jout; echo jerr >&2")
    tap.eq((r.returncode, r.stdout, r.stderr), (0, "jout\n", "jerr\n"),
           "run --log-driver journald: attached output")
    ents = jd.wait_entries(2, f"CONTAINER_NAME={name}")
    got = sorted((e.get("MESSAGE"), e.get("PRIORITY")) for e in ents)
    tap.eq(got, [("jerr\n", "3"), ("jout\n", "6")], "journald: MESSAGE with its newline; "
           "stdout PRIORITY 6, stderr PRIORITY 3")
    ids = {e.get("CONTAINER_ID_FULL") for e in ents}
    tap.ok(len(ids) == 1 and re.fullmatch(r"[0-9a-f]{64}", ids.pop() or ""),
           "journald: CONTAINER_ID_FULL is the 64-hex container id")
    tap.ok(all(e.get("CONTAINER_ID") and len(e["CONTAINER_ID"]) == 12 for e in ents),
           "journald: CONTAINER_ID has 12 characters")
    tap.ok(all(e.get("SYSLOG_IDENTIFIER") for e in ents), "journald: SYSLOG_IDENTIFIER set",
           f"{ents}")
    r = p.run("run", "-d", "--name", name + "d", "--log-driver", "journald", IMG, "sh", "-c",
              "echo jd-logs; sleep 300")
    kcoci.wait_for(lambda: jd.query(f"CONTAINER_NAME={name}d"), 5)
    r = p.run("logs", name + "d")
    tap.eq(r.stdout, "jd-logs\n", "journald: podman logs reads it back", r.stderr)
    p.run("rm", "-f", "-t", "0", name + "d")


def run(tap):
    kcjournald.reexec_in_mount_ns()
    mon = kctest.monitor_from_env(tap)
    if not mon:
        return
    tap.diag(f"monitor: {mon}")
    kcpodman.hide_machine_storage()
    env = kctest.Env("kc-podman-")
    jd = kcjournald.Journald(env.base)
    p = None
    try:
        jd.start()
        p = kcpodman.Podman(os.path.join(env.base, "podman"), mon)
        v = subprocess.run([p.exe, "--version"], capture_output=True, text=True).stdout
        tap.diag(v.strip())
        t0 = time.monotonic()
        p.import_rootfs(env.rootfs, IMG)
        tap.ok(True, "podman import of the busybox rootfs")
        with tap.case("podman scenarios"):
            scenarios(tap, p, jd, mon)
        tap.diag(f"podman scenarios: {time.monotonic() - t0:.1f} s")
    finally:
        if p:
            p.cleanup()
        jd.stop()
        env.check_sanitizers(tap)
        env.close()


if __name__ == "__main__":
    kctest.main(run)
