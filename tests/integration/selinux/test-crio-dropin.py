#!/usr/bin/env python3
"""Checks the generated CRI-O drop-in (50-kata.conf) and the RuntimeClass manifest: they
parse, carry the keys CRI-O reads with the install paths, and get installed (TAP)."""
import json
import os
import re
import sys
import tomllib

# [crio.runtime.runtimes.NAME] keys CRI-O knows (pkg/config RuntimeHandler).
HANDLER_KEYS = {
    "runtime_path", "runtime_type", "runtime_root", "runtime_config_path",
    "privileged_without_host_devices", "allowed_annotations", "monitor_path", "monitor_cgroup",
    "monitor_env", "monitor_exec_cgroup", "platform_runtime_paths", "runtime_pull_image",
    "container_min_memory", "no_sync_log", "inherit_default_runtime", "default_annotations",
    "stream_websockets", "exec_cpu_affinity", "seccomp_profile", "container_create_timeout",
}

n = 0
failed = 0


def tap(ok, desc, diag=""):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print(("ok" if ok else "not ok") + " %d - %s" % (n, desc))
    if diag and not ok:
        for line in str(diag).rstrip().splitlines():
            print("# " + line)
    sys.stdout.flush()


def tap_skip(desc, why):
    global n
    n += 1
    print("ok %d - %s # SKIP %s" % (n, desc, why))


def check_dropin(text, libexecdir, conf_path):
    """Returns (handler name, list of problems)."""
    problems = []
    if "@" in text:
        problems.append("unsubstituted @VARIABLE@ left")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        return None, ["not TOML: %s" % e]
    runtimes = doc.get("crio", {}).get("runtime", {}).get("runtimes", {})
    if set(doc) != {"crio"} or set(doc["crio"]) != {"runtime"} or set(doc["crio"]["runtime"]) != {"runtimes"}:
        problems.append("the drop-in must only define [crio.runtime.runtimes.*], got %r" % doc)
    if len(runtimes) != 1:
        return None, problems + ["want exactly one handler, got %r" % list(runtimes)]
    name, h = next(iter(runtimes.items()))
    if "kata" not in name.lower():
        problems.append("handler %r: CRI-O only treats handlers named *kata* as kernel separated" % name)
    unknown = set(h) - HANDLER_KEYS
    if unknown:
        problems.append("keys CRI-O does not know: %s" % sorted(unknown))
    want = {
        "runtime_type": "oci",
        "runtime_path": os.path.join(libexecdir, "kata-runtime"),
        "monitor_path": os.path.join(libexecdir, "kata-conmon"),
        "runtime_root": "/run/kata-conmon",
        "privileged_without_host_devices": True,
    }
    for k, v in want.items():
        if h.get(k) != v:
            problems.append("%s = %r, want %r" % (k, h.get(k), v))
    for k in ("runtime_path", "monitor_path", "runtime_root"):
        if not isinstance(h.get(k), str) or not h[k].startswith("/"):
            problems.append("%s must be an absolute path" % k)
    cg = h.get("monitor_cgroup")
    if not (cg == "pod" or (isinstance(cg, str) and cg.endswith(".slice"))):
        problems.append("monitor_cgroup = %r: CRI-O accepts pod or a systemd slice" % cg)
    env = h.get("monitor_env")
    if not isinstance(env, list) or not all(isinstance(e, str) and "=" in e for e in env):
        problems.append("monitor_env must be a list of KEY=VALUE strings: %r" % env)
    else:
        d = dict(e.split("=", 1) for e in env)
        if not d.get("PATH", "").startswith("/") or "/usr/bin" not in d.get("PATH", "").split(":"):
            problems.append("monitor_env PATH = %r" % d.get("PATH"))
        if d.get("KATA_CONMON_CONF") != conf_path:
            problems.append("KATA_CONMON_CONF = %r, want %r" % (d.get("KATA_CONMON_CONF"), conf_path))
    if "runtime_config_path" in h:
        problems.append("runtime_config_path is refused by CRI-O for runtime_type oci")
    return name, problems


def parse_yaml_mappings(text):
    """The YAML subset the manifest uses: nested mappings of plain or quoted scalars."""
    root = {}
    stack = [(-1, root)]
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError("line %d: tab indentation" % no)
        indent = len(line) - len(line.lstrip())
        m = re.fullmatch(r"([A-Za-z0-9_.\-/]+):(?:\s+(.*))?", line.strip())
        if not m:
            raise ValueError("line %d: not a 'key: value' line: %r" % (no, raw))
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        key, value = m.group(1), m.group(2)
        if key in parent:
            raise ValueError("line %d: duplicate key %s" % (no, key))
        if value is None:
            parent[key] = {}
            stack.append((indent, parent[key]))
        else:
            parent[key] = value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value
    return root


def check_runtimeclass(text, handler):
    problems = []
    try:
        rc = parse_yaml_mappings(text)
    except ValueError as e:
        return ["not the expected YAML: %s" % e]
    if rc.get("apiVersion") != "node.k8s.io/v1" or rc.get("kind") != "RuntimeClass":
        problems.append("apiVersion/kind: %r/%r" % (rc.get("apiVersion"), rc.get("kind")))
    if rc.get("handler") != handler:
        problems.append("handler %r does not name the drop-in's handler %r" % (rc.get("handler"), handler))
    name = rc.get("metadata", {}).get("name", "")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", name):
        problems.append("metadata.name %r is not a DNS label" % name)
    pf = rc.get("overhead", {}).get("podFixed", {})
    cpu, mem = pf.get("cpu", ""), pf.get("memory", "")
    if not re.fullmatch(r"\d+m|\d+(\.\d+)?", cpu) or cpu in ("0", "0m"):
        problems.append("overhead.podFixed.cpu %r is not a positive CPU quantity" % cpu)
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|k|M|G)?", mem)
    if not m or int(m.group(1)) == 0:
        problems.append("overhead.podFixed.memory %r is not a positive memory quantity" % mem)
    elif m.group(2) == "Mi" and not 64 <= int(m.group(1)) <= 4096:
        problems.append("overhead.podFixed.memory %r is implausible for QEMU + guest kernel" % mem)
    return problems


def main():
    dropin = os.environ.get("KC_CRIO_DROPIN", "")
    rcfile = os.environ.get("KC_RUNTIMECLASS", "")
    libexecdir = os.environ.get("KC_LIBEXECDIR", "")
    src = os.environ.get("KC_SOURCE_DIR", "")
    build = os.environ.get("KC_BUILD_DIR", "")
    for var, val in (("KC_CRIO_DROPIN", dropin), ("KC_RUNTIMECLASS", rcfile), ("KC_LIBEXECDIR", libexecdir),
                     ("KC_SOURCE_DIR", src), ("KC_BUILD_DIR", build)):
        if not val:
            print("Bail out! %s not set (run through meson test)" % var)
            return 1

    # The configuration file the binaries read by default (runtime/lib/vm/vm-config.h).
    conf_path = None
    try:
        with open(os.path.join(src, "runtime/lib/vm/vm-config.h")) as f:
            m = re.search(r'#define\s+KC_VM_CONFIG_PATH\s+"([^"]+)"', f.read())
            conf_path = m.group(1) if m else None
    except OSError:
        pass

    print("1..9")
    with open(dropin) as f:
        text = f.read()
    name, problems = check_dropin(text, libexecdir, conf_path)
    tap(name is not None and not problems, "50-kata.conf parses as TOML with the handler keys and install paths",
        "\n".join(problems))
    tap(conf_path is not None, "the binaries' default configuration path is known: %s" % conf_path,
        "KC_VM_CONFIG_PATH not found in runtime/lib/vm/vm-config.h")

    # The checker must be able to say no.
    mutations = (
        ("runtime_type vm", text.replace('runtime_type = "oci"', 'runtime_type = "vm"')),
        ("monitor_path elsewhere", re.sub(r'monitor_path = "[^"]*"', 'monitor_path = "/usr/bin/conmon"', text)),
        ("TOML syntax error", text.replace("privileged_without_host_devices = true",
                                           "privileged_without_host_devices = yes")),
        ("handler renamed", text.replace("[crio.runtime.runtimes.kata]", "[crio.runtime.runtimes.vm]")),
        ("typo in a key", text.replace("monitor_cgroup", "monitor_cgroups")),
    )
    missed = [desc for desc, t in mutations if not check_dropin(t, libexecdir, conf_path)[1]]
    tap(not missed and all(t != text for _, t in mutations), "broken drop-ins are rejected", "missed: %s" % missed)

    with open(rcfile) as f:
        rctext = f.read()
    problems = check_runtimeclass(rctext, name)
    tap(not problems, "runtimeclass-kata.yaml: RuntimeClass for handler %r with a pod overhead" % name,
        "\n".join(problems))
    bad = check_runtimeclass(rctext.replace("handler: kata", "handler: runc"), name) and \
        check_runtimeclass(rctext.replace("memory: 350Mi", "memory: lots"), name)
    tap(bool(bad), "a RuntimeClass with a foreign handler or a bad quantity is rejected")

    # What `meson install` puts where.
    with open(os.path.join(build, "meson-info", "intro-installed.json")) as f:
        installed = json.load(f)
    dests = {os.path.basename(k): v for k, v in installed.items()}
    for fname in ("50-kata.conf", "runtimeclass-kata.yaml"):
        dest = dests.get(fname, "")
        tap(dest.endswith("/share/kata-conmon/" + fname), "%s is installed to datadir/kata-conmon" % fname,
            "installed as %r" % dest)
    pp = dests.get("kata_conmon.pp", "")
    if not os.environ.get("KC_SELINUX_PP"):
        tap_skip("kata_conmon.pp is installed", "the policy module is not built (selinux_policy)")
    else:
        tap(pp.endswith("/share/selinux/packages/kata_conmon.pp"), "kata_conmon.pp is installed to datadir/selinux/packages",
            "installed as %r" % pp)
    # The binaries the drop-in names are the ones meson installs.
    want = {os.path.join(libexecdir, b) for b in ("kata-conmon", "kata-runtime")}
    have = set(installed.values())
    tap(want <= have, "runtime_path and monitor_path are install destinations of our binaries",
        "not installed: %s" % sorted(want - have))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
