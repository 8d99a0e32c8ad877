#!/usr/bin/env python3
"""Links the kata_conmon SELinux module into a private copy of the host policy store and
checks the resulting kernel policy and file contexts (TAP)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

DEVEL_MAKEFILE = "/usr/share/selinux/devel/Makefile"
TOOLS = ("semodule", "sesearch", "seinfo", "matchpathcon", "make", "checkmodule")

# A stand-in for container-selinux: only the declarations our optional blocks require.
STUB_TE = """policy_module(kc_test_container_stub, 1.0.0)
type container_runtime_t;
domain_type(container_runtime_t)
role system_r types container_runtime_t;
type container_kvm_t;
domain_type(container_kvm_t)
role system_r types container_kvm_t;
type container_kvm_var_run_t;
files_type(container_kvm_var_run_t)
"""

# A policy of someone else's using our interfaces (selinux/kata_conmon.if).
USER_TE = """policy_module(kc_test_if_user, 1.0.0)
type kc_test_if_user_t;
domain_type(kc_test_if_user_t)
kata_conmon_exec(kc_test_if_user_t)
kata_conmon_read_config(kc_test_if_user_t)
kata_conmon_read_state(kc_test_if_user_t)
kata_conmon_read_cache(kc_test_if_user_t)
"""

# Negative controls: the same reference to a type no policy has, outside and inside
# optional_policy. Both compile; only the second may link.
BROKEN_TE = """policy_module(kc_test_broken, 1.0.0)
gen_require(`
        type kata_conmon_nonexistent_t;
')
type kc_test_broken_t;
files_type(kc_test_broken_t)
allow kata_conmon_nonexistent_t kc_test_broken_t:file read;
"""

# Violates refpolicy's and Fedora's neverallow on load_policy: refused only when the store
# checks neverallow assertions (expand-check=1), which proves ours were checked too.
NEVERALLOW_TE = """policy_module(kc_test_neverallow, 1.0.0)
gen_require(`
        type security_t;
        class security load_policy;
')
type kc_test_neverallow_t;
domain_type(kc_test_neverallow_t)
allow kc_test_neverallow_t security_t:security load_policy;
"""

OPTIONAL_TE = """policy_module(kc_test_optional, 1.0.0)
type kc_test_optional_t;
files_type(kc_test_optional_t)
optional_policy(`
        gen_require(`
                type kata_conmon_nonexistent_t;
        ')
        allow kata_conmon_nonexistent_t kc_test_optional_t:file read;
')
"""

n = 0
failed = 0


def tap(ok, desc, diag=""):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print(("ok" if ok else "not ok") + " %d - %s" % (n, desc))
    if diag and not ok:
        for line in diag.rstrip().splitlines():
            print("# " + line)
    sys.stdout.flush()
    return ok


def bail(msg):
    print("Bail out! " + msg)
    sys.exit(1)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def compile_module(workdir, name, text, interfaces_of=None):
    d = os.path.join(workdir, name)
    os.makedirs(d)
    if interfaces_of:
        # The devel Makefile reads the .if of every .te in the current directory.
        for ext in ("te", "if", "fc"):
            shutil.copy(interfaces_of + "." + ext, d)
    for ext, body in (("te", text), ("if", ""), ("fc", "")):
        with open(os.path.join(d, name + "." + ext), "w") as f:
            f.write(body)
    p = run(["make", "-s", "-f", DEVEL_MAKEFILE, name + ".pp"], cwd=d)
    pp = os.path.join(d, name + ".pp")
    return (p.returncode == 0 and os.path.isfile(pp)), pp, p.stdout + p.stderr


class Store:
    """A private copy of the host's policy store and policy tree under ROOT."""

    def __init__(self, root, store):
        self.root = root
        self.store = store
        os.makedirs(os.path.join(root, "etc"))
        os.makedirs(os.path.join(root, "var", "lib"))
        shutil.copytree("/etc/selinux", os.path.join(root, "etc", "selinux"), symlinks=True)
        shutil.copytree("/var/lib/selinux", os.path.join(root, "var", "lib", "selinux"), symlinks=True)
        # Check the policy's neverallow assertions on every link (distributions ship 0).
        conf = os.path.join(root, "etc", "selinux", "semanage.conf")
        with open(conf) as f:
            lines = [l for l in f.read().splitlines() if not l.strip().startswith("expand-check")]
        with open(conf, "w") as f:
            f.write("\n".join(lines + ["expand-check=1", ""]))

    def semodule(self, *args):
        return run(["semodule", "-p", self.root, "-s", self.store, "-n"] + list(args))

    def policy(self):
        d = os.path.join(self.root, "etc", "selinux", self.store, "policy")
        files = sorted((f for f in os.listdir(d) if re.fullmatch(r"policy\.\d+", f)),
                       key=lambda f: int(f.split(".")[1]))
        return os.path.join(d, files[-1]) if files else None

    def file_contexts(self):
        return os.path.join(self.root, "etc", "selinux", self.store, "contexts", "files", "file_contexts")

    def modules(self):
        p = self.semodule("-l")
        return p.stdout.split()


# seinfo and sesearch load the whole policy on every call: ask once per policy file and
# source type, and filter here.
_cache = {}


def _cached(key, argv):
    if key not in _cache:
        _cache[key] = run(argv)
    return _cache[key]


def _version(policy):
    return (policy, os.stat(policy).st_mtime_ns)


def type_line(policy, name):
    p = _cached(("types",) + _version(policy), ["seinfo", policy, "-t", "-x"])
    m = re.search(r"^\s+type %s\b.*$" % re.escape(name), p.stdout, re.M)
    return m.group(0) if m else ""


def has_type(policy, name):
    return bool(type_line(policy, name))


RULE_RE = re.compile(r"^(allow|type_transition) (\S+) (\S+):(\S+) (?:\{ ([^}]*) \}|([^;]+));")


def rules(policy, kind, src, tgt, cls, perms=None):
    """Rules of kind (-A allow, -T type_transition) written for exactly src → tgt:cls
    (no attribute expansion) holding all of perms. None if src is no type of this policy."""
    p = _cached(("rules", kind, src) + _version(policy), ["sesearch", policy, kind, "-s", src, "-ds"])
    if p.returncode != 0:
        return None, p.stderr
    want = set(perms.split(",")) if perms else set()
    found, near = [], []
    for line in p.stdout.splitlines():
        m = RULE_RE.match(line.strip())
        if not m or m.group(2) != src or m.group(3) != tgt or m.group(4) != cls:
            continue
        near.append(line)
        have = set((m.group(5) or m.group(6) or "").split()) if m.group(1) == "allow" else set()
        if want <= have:
            found.append(line)
    return found, "\n".join(near) or "no %s rule %s -> %s:%s" % (kind, src, tgt, cls)


def main():
    pp = os.environ.get("KC_SELINUX_PP", "")
    src = os.environ.get("KC_SOURCE_DIR", "")
    if not src or not os.path.isfile(os.path.join(src, "selinux", "kata_conmon.if")):
        bail("KC_SOURCE_DIR=%r does not hold selinux/kata_conmon.if (run through meson test)" % src)
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        bail("missing tools %s (apt-get install policycoreutils setools selinux-utils checkpolicy make)" % " ".join(missing))
    if not os.path.isfile(DEVEL_MAKEFILE):
        bail("%s missing (apt-get install selinux-policy-dev)" % DEVEL_MAKEFILE)
    if not pp or not os.path.isfile(pp):
        bail("kata_conmon.pp not built (KC_SELINUX_PP=%r): configure with -Dselinux_policy=enabled" % pp)
    store = "default"
    try:
        with open("/etc/selinux/config") as f:
            for line in f:
                if line.startswith("SELINUXTYPE="):
                    store = line.split("=", 1)[1].strip()
    except OSError:
        pass
    if not os.path.isdir(os.path.join("/var/lib/selinux", store)):
        bail("no policy store /var/lib/selinux/%s (apt-get install selinux-policy-default)" % store)

    print("1..28")
    with tempfile.TemporaryDirectory(prefix="kc-selinux-") as tmp:
        st = Store(os.path.join(tmp, "root"), store)
        base_policy = st.policy()
        host_has_container = bool(base_policy and has_type(base_policy, "container_kvm_t"))

        # 1-3: the real link step.
        p = st.semodule("-i", pp)
        tap(p.returncode == 0, "kata_conmon.pp links into a copy of the %s store (neverallow checked)" % store,
            p.stdout + p.stderr)
        tap("kata_conmon" in st.modules(), "semodule -l lists kata_conmon")
        policy = st.policy()
        tap(policy is not None and os.path.getmtime(policy) >= os.path.getmtime(pp),
            "a kernel policy was rebuilt: %s" % (os.path.basename(policy) if policy else "none"))
        if policy is None:
            bail("no policy.N produced")

        # 4-7: our types with their attributes.
        for name, attr in (("kata_conmon_exec_t", "exec_type"), ("kata_conmon_conf_t", "configfile"),
                           ("kata_conmon_var_run_t", "pidfile"), ("kata_conmon_cache_t", "file_type")):
            line = type_line(policy, name)
            tap(re.search(r"\b%s\b" % attr, line) is not None, "type %s exists with attribute %s" % (name, attr),
                line or "type missing")

        # 8: file contexts, through the same lookup restorecon uses.
        expect = {
            "/usr/libexec/kata-conmon/kata-conmon": "kata_conmon_exec_t",
            "/usr/libexec/kata-conmon/kata-runtime": "kata_conmon_exec_t",
            "/usr/local/libexec/kata-conmon/kata-conmon": "kata_conmon_exec_t",
            "/usr/local/libexec/kata-conmon/kata-runtime": "kata_conmon_exec_t",
            "/usr/local/libexec/kata-conmon": "kata_conmon_exec_t",
            "/etc/kata-conmon/kata-conmon.conf": "kata_conmon_conf_t",
            "/run/kata-conmon/0123abcd/state.json": "kata_conmon_var_run_t",
            "/var/run/kata-conmon": "kata_conmon_var_run_t",
            "/var/cache/kata-conmon/kata.initrd": "kata_conmon_cache_t",
        }
        p = run(["matchpathcon", "-f", st.file_contexts()] + sorted(expect))
        got = {}
        for line in p.stdout.splitlines():
            path, _, ctx = line.partition("\t")
            got[path] = ctx.split(":")[2] if ctx.count(":") >= 3 else ctx
        bad = ["%s: want %s, got %s" % (k, v, got.get(k)) for k, v in sorted(expect.items()) if got.get(k) != v]
        tap(p.returncode == 0 and not bad, "file contexts label our binaries, config, state and cache",
            "\n".join(bad) + p.stderr)
        # 9: and nothing else.
        p = run(["matchpathcon", "-f", st.file_contexts(), "/usr/libexec/kata-conmon-other", "/run/kata-conmonx",
                 "/usr/local/libexec/other"])
        tap(p.returncode == 0 and "kata_conmon" not in p.stdout, "file contexts do not spill onto neighbours",
            p.stdout + p.stderr)

        # 10-11: the container-selinux blocks follow the presence of container-selinux.
        r, out = rules(policy, "-A", "container_kvm_t", "kata_conmon_cache_t", "file", "read")
        if host_has_container:
            tap(bool(r), "host has container-selinux: container_kvm_t reads the image cache", out)
        else:
            tap(not r and not has_type(policy, "container_kvm_t"),
                "without container-selinux no container_kvm_t rule is linked (optional blocks off)", out)
        tap(not has_type(policy, "container_runtime_t") or host_has_container,
            "our module declares no container-selinux type itself")

        # 12-24: with container-selinux present (a stand-in module when the host has none),
        # relinking enables our optional blocks.
        ok, user, log = compile_module(tmp, "kc_test_if_user", USER_TE,
                                       os.path.join(src, "selinux", "kata_conmon"))
        if not ok:
            bail("cannot compile a module using kata_conmon.if: " + log)
        if not host_has_container:
            ok, stub, log = compile_module(tmp, "kc_test_container_stub", STUB_TE)
            if not ok:
                bail("cannot compile the container-selinux stand-in: " + log)
            p = st.semodule("-i", stub, "-i", user)
            tap(p.returncode == 0, "container-selinux stand-in and a user of kata_conmon.if link next to kata_conmon",
                p.stdout + p.stderr)
        else:
            p = st.semodule("-i", user)
            tap(p.returncode == 0, "container-selinux present on the host; a user of kata_conmon.if links",
                p.stdout + p.stderr)
        policy = st.policy()
        checks = (
            ("-A", "container_runtime_t", "kata_conmon_exec_t", "file", "execute,execute_no_trans",
             "CRI-O (container_runtime_t) executes our binaries without a transition"),
            ("-A", "container_runtime_t", "kata_conmon_var_run_t", "dir", "create,add_name,remove_name",
             "container_runtime_t manages runtime_root"),
            ("-A", "container_runtime_t", "container_kvm_t", "process", "transition",
             "the monitor may exec QEMU as container_kvm_t (setexeccon)"),
            ("-A", "container_runtime_t", "container_kvm_t", "process2", "nnp_transition",
             "nnp_transition to container_kvm_t"),
            ("-A", "container_kvm_t", "qemu_exec_t", "file", "entrypoint",
             "qemu_exec_t is an entrypoint of container_kvm_t"),
            ("-A", "container_kvm_t", "kata_conmon_cache_t", "file", "read,map",
             "container_kvm_t reads and maps the guest images"),
            ("-A", "container_kvm_t", "container_runtime_t", "fd", "use",
             "QEMU uses fds inherited from the monitor"),
            ("-A", "kc_test_if_user_t", "kata_conmon_cache_t", "file", "read,map",
             "kata_conmon_read_cache() grants what it says"),
            ("-A", "kc_test_if_user_t", "kata_conmon_exec_t", "file", "execute,execute_no_trans",
             "kata_conmon_exec() grants what it says"),
            ("-A", "kc_test_if_user_t", "kata_conmon_conf_t", "file", "read",
             "kata_conmon_read_config() grants what it says"),
            ("-A", "kc_test_if_user_t", "kata_conmon_var_run_t", "file", "read",
             "kata_conmon_read_state() grants what it says"),
        )
        for kind, s, t, c, perms, desc in checks:
            r, out = rules(policy, kind, s, t, c, perms)
            tap(bool(r), desc, out)
        r, out = rules(policy, "-T", "container_runtime_t", "var_run_t", "dir")
        tap(bool(r) and any(re.search(r'kata_conmon_var_run_t "?kata-conmon"?;', l) for l in r),
            "a kata-conmon dir created in /run by the runtime is labelled kata_conmon_var_run_t", out)

        # 25-28: negative controls, so that this test can fail.
        ok, broken, log = compile_module(tmp, "kc_test_broken", BROKEN_TE)
        before = st.modules()
        p = st.semodule("-i", broken) if ok else None
        tap(ok and p.returncode != 0 and "kc_test_broken" in (p.stdout + p.stderr),
            "a module requiring a missing type outside optional_policy compiles but is refused at link",
            log if not ok else p.stdout + p.stderr)
        tap(st.modules() == before, "the refused module left the store unchanged")
        ok, opt, log = compile_module(tmp, "kc_test_optional", OPTIONAL_TE)
        p = st.semodule("-i", opt) if ok else None
        tap(ok and p.returncode == 0 and "kc_test_optional" in st.modules(),
            "the same reference inside optional_policy links", log if not ok else p.stdout + p.stderr)
        ok, na, log = compile_module(tmp, "kc_test_neverallow", NEVERALLOW_TE)
        p = st.semodule("-i", na) if ok else None
        tap(ok and p.returncode != 0 and "neverallow check failed" in p.stdout + p.stderr
            and "kc_test_neverallow" not in st.modules(),
            "neverallow assertions are enforced in this store: a module granting load_policy is refused",
            log if not ok else p.stdout + p.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
