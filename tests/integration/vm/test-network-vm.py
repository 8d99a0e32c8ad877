#!/usr/bin/env python3
"""Pod networking of a VM pod: the pod netns' veth mirrored to a tap, the guest gets its MAC, addresses and routes."""
import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kcvm  # noqa: E402
import kcoci  # noqa: E402
from kctap import Tap  # noqa: E402

# Test-only links between namespaces this test creates (nothing leaves the machine).
NET = 213
MAC = "0a:58:0a:d5:00:02"


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def tc(*args):
    r = subprocess.run(["tc", *args], capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


def main():
    tap = Tap()
    tag = os.urandom(3).hex()
    pod_ns, peer_ns = f"kcnet-pod-{tag}", f"kcnet-peer-{tag}"

    def body(e, tmp, pod):
        kcoci.require_exe("/usr/sbin/ip", "ip (Debian package iproute2)")
        kcoci.require_exe("/usr/sbin/tc", "tc (Debian package iproute2)")
        if not os.path.exists("/dev/net/tun"):
            raise kcoci.Missing("/dev/net/tun (the tun driver)")
        pod.h, kr, menv, vmdir = kcvm.pod_setup(e, tmp)
        make_network(pod_ns, peer_ns)
        run(tap, pod.h, kr, menv, vmdir, tmp, pod_ns, peer_ns)
        bad_input(tap, pod.h, menv, vmdir, tmp, kr)
        agent_validation(tap, e["KC_AGENT"], tmp)
        tap.eq(kcvm.sanitizer_reports(tmp), [], "no sanitizer reports from the monitors")

    def remove_netns():
        for ns in (pod_ns, peer_ns):
            ip("netns", "del", ns, check=False)
    kcvm.run_test(tap, "kc-vm-net-", body, after=remove_netns)


def make_network(pod_ns, peer_ns):
    """What CNI does for a pod: a netns with eth0 (a veth), its addresses and routes."""
    ip("netns", "add", pod_ns)
    ip("netns", "add", peer_ns)
    ip("-n", pod_ns, "link", "add", "eth0", "address", MAC, "mtu", "1400", "type", "veth",
       "peer", "name", "peer0", "netns", peer_ns)
    ip("-n", pod_ns, "addr", "add", f"10.{NET}.7.2/24", "dev", "eth0")
    ip("-n", pod_ns, "addr", "add", "fd00:213:7::2/64", "dev", "eth0", "nodad")
    ip("-n", pod_ns, "link", "set", "eth0", "up")
    ip("-n", pod_ns, "link", "set", "lo", "up")
    ip("-n", pod_ns, "route", "add", "default", "via", f"10.{NET}.7.1")
    ip("-n", pod_ns, "route", "add", f"10.{NET}.99.0/24", "via", f"10.{NET}.7.1")
    ip("-n", peer_ns, "link", "set", "peer0", "mtu", "1400")
    ip("-n", peer_ns, "addr", "add", f"10.{NET}.7.1/24", "dev", "peer0")
    ip("-n", peer_ns, "addr", "add", "fd00:213:7::1/64", "dev", "peer0", "nodad")
    ip("-n", peer_ns, "link", "set", "peer0", "up")


def create(h, cid, args, annotations, menv, netns=None, caps=()):
    def edit(spec):
        if netns:
            nss = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
            spec["linux"]["namespaces"] = nss + [{"type": "network", "path": netns}]
        for s in spec["process"].get("capabilities", {}).values():
            s.extend(caps)
    return kcvm.create(h, cid, args, annotations, menv, edit=edit)


def run(tap, h, kr, menv, vmdir, tmp, pod_ns, peer_ns):
    sid = "netpod-" + os.urandom(4).hex()
    netns = f"/run/netns/{pod_ns}"
    pod = create(h, sid, ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
                 {kcvm.T_TYPE: "sandbox", kcvm.T_SANDBOX: sid}, menv, netns=netns)
    if not tap.ok(pod.pid and pod.pid > 0, "sandbox with a network namespace created",
                  f"sync={pod.sync} stderr={pod.parent_err!r}"):
        return
    kr.run("start", sid, check=False)
    links = ip("-n", pod_ns, "-j", "link", "show").stdout
    tap.ok("tap0_kata" in links, "a tap tap0_kata in the pod netns", links)
    qdisc = tc("-n", pod_ns, "-j", "qdisc", "show", "dev", "eth0")
    tap.ok('"ingress"' in qdisc, "an ingress qdisc on eth0 (tc mirroring)", qdisc)
    filt = tc("-n", pod_ns, "filter", "show", "dev", "eth0", "ingress")
    tap.match(r"(?i)mirred \(egress redirect to device tap0_kata\)", filt,
              "eth0's ingress is redirected to the tap")
    filt = tc("-n", pod_ns, "filter", "show", "dev", "tap0_kata", "ingress")
    tap.match(r"(?i)mirred \(egress redirect to device eth0\)", filt, "and the tap's ingress to eth0")

    # The guest: eth0 with the veth's MAC, MTU and addresses, the routes, and the peer reachable.
    script = ("ip addr show; echo ROUTES; ip route show; ip -6 route show; "
              f"ping -c1 -W10 10.{NET}.7.1 >/dev/null && echo PING4-OK; "
              "ping -6 -c1 -W10 fd00:213:7::1 >/dev/null && echo PING6-OK; echo DONE")
    c = create(h, "probe", ["sh", "-c", script], {kcvm.T_TYPE: "container", kcvm.T_SANDBOX: sid}, menv,
               netns=netns, caps=["CAP_NET_RAW"])
    if tap.ok(c.pid and c.pid > 0, "a container in the networked pod", c.sync):
        kr.run("start", "probe", check=False)
        tap.eq(c.wait_exit(60), "0", "the probe container exits 0")
        out = c.log_text() or ""
        tap.match(rf"link/ether {MAC}", out, "the guest NIC has the veth's MAC")
        tap.match(r"eth0: <[^>]*UP[^>]*> mtu 1400", out, "the guest's eth0 is up with the veth's MTU")
        tap.match(rf"inet 10\.{NET}\.7\.2/24", out, "the guest has the veth's IPv4 address")
        tap.match(r"inet6 fd00:213:7::2/64", out, "the guest has the veth's IPv6 address")
        tap.match(rf"default via 10\.{NET}\.7\.1 dev eth0", out, "the default route is in the guest")
        tap.match(rf"10\.{NET}\.99\.0/24 via 10\.{NET}\.7\.1 dev eth0", out, "the extra route is in the guest")
        tap.match(r"PING4-OK", out, "the guest reaches the peer over IPv4 (ping)")
        tap.match(r"PING6-OK", out, "the guest reaches the peer over IPv6 (ping)")
        if tap.failed:
            tap.diag("probe output:\n" + out)
        kr.run("delete", "probe", check=False)
    r = subprocess.run(["ip", "netns", "exec", peer_ns, kcoci.BUSYBOX, "ping", "-c1", "-W10", f"10.{NET}.7.2"],
                       capture_output=True, text=True, timeout=30)
    tap.eq(r.returncode, 0, "the peer reaches the guest (ping from the peer netns)", r.stdout + r.stderr)

    kr.run("kill", sid, "15", check=False)
    tap.eq(pod.wait_exit(30), "0", "the sandbox stops")
    kr.run("delete", sid, check=False)
    time.sleep(0.2)
    links = ip("-n", pod_ns, "-j", "link", "show").stdout
    tap.ok("tap0_kata" not in links and '"eth0"' in links, "the tap is gone, the pod's eth0 stays", links)
    qdisc = tc("-n", pod_ns, "-j", "qdisc", "show", "dev", "eth0")
    tap.ok('"ingress"' not in qdisc, "the ingress qdisc on eth0 is removed", qdisc)
    tap.eq(kcvm.processes_matching(vmdir), [], "no QEMU or virtiofsd left")
    tap.eq(ip("netns", "pids", pod_ns).stdout.split(), [], "no process left in the pod netns")
    ip("netns", "del", pod_ns)
    ip("netns", "del", peer_ns)
    left = ip("netns", "list").stdout
    tap.ok(pod_ns not in left and peer_ns not in left, "the test's netns (and so the veth) are deleted", left)
    tap.eq(kcvm.mounts_under(tmp), [], "no mounts left")
    tap.eq(sorted(os.listdir(vmdir)) if os.path.isdir(vmdir) else [], [], "no sandbox dir left")
    tap.eq(sorted(os.listdir(kr.root)), [], "no state left under the runtime root")


def bad_input(tap, h, menv, vmdir, tmp, kr):
    """A network namespace path that does not exist, or is no netns: a clear error, nothing left."""
    not_ns = os.path.join(tmp, "not-a-netns")
    with open(not_ns, "w") as f:
        f.write("x")
    missing = "/run/netns/kc-no-such-netns"
    for cid, path, pattern in (("nonet", missing, rf"network namespace {missing}: No such file"),
                               ("notns", not_ns, r"not a network namespace")):
        c = create(h, cid, ["true"], {kcvm.T_TYPE: "sandbox", kcvm.T_SANDBOX: cid}, menv, netns=path)
        c.wait_monitor(30)
        msg = c.msg or {}
        tap.ok(msg.get("pid") == -1, f"{cid}: pid -1 on the sync pipe", f"sync={c.sync} stderr={c.parent_err!r}")
        tap.match(pattern, msg.get("message", ""), f"{cid}: the message says why")
        tap.eq(kcvm.processes_matching(vmdir), [], f"{cid}: no QEMU left")
        tap.eq(sorted(os.listdir(vmdir)) if os.path.isdir(vmdir) else [], [], f"{cid}: no sandbox dir left")
        tap.eq(sorted(os.listdir(kr.root)), [], f"{cid}: no state left")
        tap.ok(c.monitor_status is not None, f"{cid}: the monitor exited")


def agent_request(sock, rid, req):
    payload = json.dumps(req).encode()
    sock.sendall(struct.pack(">HBBII", 0x4B43, 1, 1, rid, len(payload)) + payload)
    while True:
        head = recv_exact(sock, 12)
        _, _, kind, fid, length = struct.unpack(">HBBII", head)
        body = recv_exact(sock, length)
        if kind == 2 and fid == rid:
            return json.loads(body)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            raise RuntimeError("the agent closed the channel")
        buf += d
    return buf


def agent_validation(tap, agent, tmp):
    """The agent checks create-sandbox's network strictly (host mode: validated, nothing configured)."""
    eth = {"name": "eth0", "mac": MAC, "mtu": 1500, "addresses": ["10.213.7.2/24", "fd00:213:7::2/64"]}
    good_routes = [{"dest": "default", "gateway": "10.213.7.1", "device": "eth0"},
                   {"dest": "10.213.99.0/24", "device": "eth0"}]
    bad = {
        "interfaces not an array": {"interfaces": {}},
        "bad MAC": {"interfaces": [dict(eth, mac="0a:58:0a:d5:00")]},
        "MTU out of range": {"interfaces": [dict(eth, mtu=20)]},
        "bad interface name": {"interfaces": [dict(eth, name="eth/0")]},
        "bad address": {"interfaces": [dict(eth, addresses=["10.213.7.2"])]},
        "prefix too long": {"interfaces": [dict(eth, addresses=["10.213.7.2/33"])]},
        "duplicate interface": {"interfaces": [eth, dict(eth, name="eth1")]},
        "too many interfaces": {"interfaces": [dict(eth, name=f"e{i}", mac=f"0a:00:00:00:00:{i:02x}")
                                               for i in range(9)]},
        "route via unknown device": {"interfaces": [eth], "routes": [dict(good_routes[0], device="eth9")]},
        "default route without gateway": {"interfaces": [eth], "routes": [{"dest": "default", "device": "eth0"}]},
        "gateway of another family": {"interfaces": [eth],
                                      "routes": [{"dest": "10.1.0.0/16", "gateway": "fd00::1", "device": "eth0"}]},
    }
    host, guest = socket.socketpair()
    proc = subprocess.Popen([agent, "--no-init", "--channel-fd", str(guest.fileno()), "--runtime", "/bin/false",
                             "--runtime-root", os.path.join(tmp, "agent-rt"), "--shared-dir",
                             os.path.join(tmp, "agent-shared"), "--state-dir", os.path.join(tmp, "agent-state")],
                            pass_fds=[guest.fileno()], stderr=subprocess.DEVNULL)
    guest.close()
    host.settimeout(20)
    try:
        rid = 1
        for what, fields in bad.items():
            rid += 1
            r = agent_request(host, rid, {"type": "create-sandbox", "shared-fs": {"type": "none"}, **fields})
            tap.ok(r.get("ok") is False and r.get("errno") == 22 and r.get("message"),
                   f"agent: create-sandbox with {what} is EINVAL", r)
        r = agent_request(host, 99, {"type": "create-sandbox", "shared-fs": {"type": "none"}, "interfaces": [eth],
                                     "routes": good_routes})
        tap.eq(r.get("ok"), True, "agent: a valid network is accepted (host mode changes nothing)", r)
    finally:
        host.close()
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
