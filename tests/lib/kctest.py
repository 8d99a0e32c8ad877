"""Common set-up for the monitor integration tests: environment, temp dirs, attach clients."""
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time

import kcoci
import kctap

LOG_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d) (stdout|stderr) (F|P) (.*)$")


def monitor_from_env(tap, var="KC_CONMON"):
    """The monitor under test; a missing one is a failed prerequisite, never a skip."""
    path = os.environ.get(var, "")
    if not path:
        tap.fail_prereq(f"{var} is not set (kata-conmon not built? meson variable kata_conmon_exe "
                        "undefined)")
        return None
    if not os.access(path, os.X_OK):
        tap.fail_prereq(f"{var}={path} is not an executable file (kata-conmon not built?)")
        return None
    return path


def is_reference(path):
    ref = os.environ.get("KC_REF_CONMON", "/usr/bin/conmon")
    return os.path.realpath(path) == os.path.realpath(ref)


def new_cid():
    return secrets.token_hex(32)


def short_tmpdir(prefix):
    # Under /tmp, whatever TMPDIR says: attach socket paths must stay under 108 bytes.
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


def parse_log(text):
    """k8s-file records as (stream, tag, payload); a line not in the format raises ValueError."""
    recs = []
    for line in (text or "").split("\n")[:-1]:
        m = LOG_RE.match(line)
        if not m:
            raise ValueError(f"bad k8s-file line: {line!r}")
        recs.append((m.group(2), m.group(3), m.group(4)))
    if text and not text.endswith("\n"):
        raise ValueError(f"log does not end in a newline: {text[-80:]!r}")
    return recs


def log_lines(text):
    """Logical lines per stream: P fragments joined to the record that completes them."""
    out = {"stdout": [], "stderr": []}
    cur = {"stdout": "", "stderr": ""}
    for stream, tag, txt in parse_log(text):
        cur[stream] += txt
        if tag == "F":
            out[stream].append(cur[stream])
            cur[stream] = ""
    for stream, rest in cur.items():
        if rest:
            out[stream].append(rest)
    return out


def attach(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    s.connect(path)
    return s


def recv_until(s, pred, timeout=5.0):
    """Collect attach packets until pred(list of packets) or EOF/timeout; returns (packets, eof)."""
    pkts = []
    deadline = time.monotonic() + timeout
    while not pred(pkts):
        left = deadline - time.monotonic()
        if left <= 0:
            return pkts, False
        s.settimeout(left)
        try:
            p = s.recv(8193)
        except socket.timeout:
            return pkts, False
        if not p:
            return pkts, True
        pkts.append(p)
    return pkts, False


def stream_bytes(pkts, sid):
    return b"".join(p[1:] for p in pkts if p[:1] == bytes([sid]))


class Env:
    """A temp dir, a busybox rootfs and a private runc root; removed by close()."""

    def __init__(self, prefix="kc-"):
        kcoci.become_subreaper()
        self.base = short_tmpdir(prefix)
        self.rootfs = kcoci.make_rootfs(os.path.join(self.base, "rootfs"))
        self.runc = kcoci.Runc(os.path.join(self.base, "runc"))
        # A sanitized monitor daemonizes with stderr on /dev/null: make ASan/UBSan write their
        # reports into files we can look for (harmless for an unsanitized binary).
        self.san_dir = os.path.join(self.base, "sanitizer")
        os.makedirs(self.san_dir)
        for var, name in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS", "ubsan")):
            opts = os.environ.get(var, "")
            os.environ[var] = (opts + ":" if opts else "") + \
                f"log_path={os.path.join(self.san_dir, name)}"

    def sanitizer_reports(self):
        out = []
        for n in sorted(os.listdir(self.san_dir)):
            with open(os.path.join(self.san_dir, n), errors="replace") as f:
                out.append(f"{n}:\n{f.read()[:4000]}")
        return out

    def check_sanitizers(self, tap):
        reps = self.sanitizer_reports()
        tap.ok(not reps, "no ASan/UBSan report from any monitor process", "\n".join(reps))

    def close(self):
        try:
            self.runc.cleanup()
        finally:
            kcoci.reap_all_children()
            shutil.rmtree(self.base, ignore_errors=True)


def main(run):
    """Run `run(tap)`, print the plan, exit with TAP's verdict."""
    tap = kctap.Tap()

    def _term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    # meson test's timeout sends SIGTERM: unwind so every finally-block cleans up.
    signal.signal(signal.SIGTERM, _term)
    try:
        run(tap)
    except kcoci.Missing as e:
        tap.fail_prereq(str(e))
    except Exception:
        import traceback
        tap.ok(False, "test script raised", traceback.format_exc())
    sys.exit(tap.finish())
