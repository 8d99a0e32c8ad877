#!/usr/bin/env python3
"""kata-runtime's diagnostics in a private systemd-journald: SYSLOG_IDENTIFIER, priority, the
container and sandbox ids, while stderr keeps the message CRI-O parses."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("KC_SOURCE_DIR", "."), "tests", "lib"))
import kcjournald  # noqa: E402
import kcoci  # noqa: E402
import kctap  # noqa: E402


def main():
    tap = kctap.Tap()
    kcjournald.reexec_in_mount_ns()
    k = os.environ.get("KC_RUNTIME", "")
    tmp = tempfile.mkdtemp(prefix="kr-journald-", dir="/tmp")
    j = None
    try:
        kcoci.require_exe(k, "kata-runtime (KC_RUNTIME)")
        j = kcjournald.Journald(tmp).start()
        root = os.path.join(tmp, "root")
        os.makedirs(os.path.join(root, "ctr1"))
        with open(os.path.join(root, "ctr1", "state.json"), "w") as f:
            json.dump({"id": "ctr1", "role": "container", "sandbox_id": "pod9", "pid": 0, "status": "stopped",
                       "bundle": "/b", "annotations": {}, "sandbox_dir": os.path.join(tmp, "pod9")}, f)

        r = subprocess.run([k, "--root", root, "state", "nosuch-ctr"], capture_output=True, text=True)
        tap.ok(r.returncode == 1 and "container not running" in r.stderr, "stderr keeps the error", r.stderr)
        ents = j.wait_entries(1, "SYSLOG_IDENTIFIER=kata-runtime", "CONTAINER_ID_FULL=nosuch-ctr")
        tap.ok(len(ents) == 1 and "nosuch-ctr" in ents[0].get("MESSAGE", "") and ents[0].get("PRIORITY") == "3" and
               ents[0].get("CODE_FILE", "").endswith(".c"), "the error is in journald with its container id", ents)

        r = subprocess.run([k, "--root", root, "kill", "ctr1", "9"], capture_output=True, text=True)
        ents = j.wait_entries(1, "SYSLOG_IDENTIFIER=kata-runtime", "KATA_SANDBOX_ID=pod9")
        tap.ok(r.returncode == 1 and len(ents) == 1 and ents[0].get("CONTAINER_ID_FULL") == "ctr1",
               "entries about a pod's container carry KATA_SANDBOX_ID", (r.stderr, ents))

        r = subprocess.run([k, "--root", root, "--log", os.path.join(tmp, "l.json"), "--log-format", "json",
                            "state", "other"], capture_output=True, text=True)
        ents = j.wait_entries(1, "SYSLOG_IDENTIFIER=kata-runtime", "CONTAINER_ID_FULL=other")
        tap.ok(len(ents) == 1 and os.path.getsize(os.path.join(tmp, "l.json")) > 0,
               "with --log, journald still gets the record", ents)
    except kcoci.Missing as ex:
        tap.fail_prereq(str(ex))
    finally:
        if j:
            j.stop()
        subprocess.run(["rm", "-rf", tmp])
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
