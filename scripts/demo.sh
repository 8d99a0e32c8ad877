#!/usr/bin/env bash
# The demo: on a fresh Debian bookworm machine, as root, from the repository root:
#   scripts/demo.sh
# installs the packages, builds kata-conmon, imports a private busybox image and runs containers
# through kata-conmon with podman (private storage under /var/tmp/kata-conmon-demo.*): first with
# runc, then pods in QEMU VMs with kata-runtime (scripts/demo-vm.sh: guest image built into the
# private dir, sandbox dirs in /run/kc-demo.*), then cleans up.
# KC_DEMO_SKIP_SETUP=1 skips scripts/setup-debian.sh; KC_BUILD_DIR overrides build/;
# KC_DEMO_ACCEL=tcg|kvm|auto (default tcg) picks the VM accelerator; KC_DEMO_SKIP_VM=1 skips the VMs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${KC_BUILD_DIR:-build}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

if [ "${1:-}" != "__inner" ]; then
        [ "$(id -u)" = 0 ] || die "run as root (it installs packages and runs containers)"
        cd "$top"
        if [ "${KC_DEMO_SKIP_SETUP:-0}" != 1 ]; then
                say "installing Debian packages (scripts/setup-debian.sh)"
                scripts/setup-debian.sh
        fi
        say "building with meson into $build/"
        [ -f "$build/build.ninja" ] || meson setup "$build"
        ninja -C "$build"
        exe=$(realpath "$build/kata-conmon/kata-conmon")
        [ -x "$exe" ] || die "no kata-conmon binary at $build/kata-conmon/kata-conmon"
        "$exe" --version
        work=$(mktemp -d /var/tmp/kata-conmon-demo.XXXXXX)
        vmdir=$(mktemp -d /run/kc-demo.XXXXXX)
        # A private mount namespace: podman's mounts stay in it, and the inner part mounts empty
        # tmpfs over the machine-wide directories podman and the runtimes use (exit commands and
        # cleanup processes that podman spawns see them too). Those that do not exist yet are
        # created for the mount points and removed again afterwards.
        private_dirs=(/var/lib/containers /run/runc /run/kata-conmon)
        made=()
        for d in "${private_dirs[@]}"; do [ -d "$d" ] || made+=("$d"); done
        # The inner shell is a child subreaper: it reaps the monitors that podman daemonizes
        # (PID 1 may not), and their orphans.
        rc=0
        unshare --mount --propagation private python3 -c 'import ctypes, os, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0 or sys.exit("PR_SET_CHILD_SUBREAPER failed")
os.execvp("bash", ["bash"] + sys.argv[1:])' "$top/scripts/demo.sh" __inner "$exe" "$work" "$vmdir" \
                "${private_dirs[@]}" || rc=$?
        rm -rf --one-file-system "$work" "$vmdir"
        for d in "${made[@]}"; do rmdir "$d" 2>/dev/null || true; done
        if [ $rc = 0 ]; then say "demo finished: OK"; else say "demo FAILED (exit $rc)"; fi
        exit $rc
fi

exe=$2
work=$3
vmdir=$4
for d in "${@:5}"; do
        mkdir -p "$d"
        mount -t tmpfs -o mode=0700 tmpfs "$d"
done
mkdir -p "$work"/{root,runroot,tmp,networks,home}
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/root"\nrunroot = "%s/runroot"\n' "$work" "$work" \
        >"$work/storage.conf"
export CONTAINERS_CONF=$work/containers.conf CONTAINERS_STORAGE_CONF=$work/storage.conf
export HOME=$work/home TMPDIR=$work/tmp

pm=(podman --root "$work/root" --runroot "$work/runroot" --tmpdir "$work/tmp" --storage-driver vfs
    --cgroup-manager cgroupfs --events-backend file --network-config-dir "$work/networks"
    --conmon "$exe" --runtime "$(command -v runc)")
p() {
        echo "+ podman --conmon $exe --runtime runc [private storage] $*" >&2
        "${pm[@]}" "$@"
}
cleanup() {
        "${pm[@]}" rm -a -f -t 0 >/dev/null 2>&1 || true
        grep -o " ${work}[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
}
trap cleanup EXIT

say "creating a busybox image (scripts/make-rootfs.sh + podman import)"
"$(dirname "$0")/make-rootfs.sh" "$work/rootfs"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
p import --change CMD=/bin/sh "$work/rootfs.tar" localhost/kata-conmon-demo-bb >/dev/null

say "a container through kata-conmon"
out=$(p run --rm localhost/kata-conmon-demo-bb echo hello from kata-conmon)
echo "$out"
[ "$out" = "hello from kata-conmon" ] || die "unexpected output: $out"

say "a detached container, its monitor, logs, exec and stop"
id=$(p run -d --name demo localhost/kata-conmon-demo-bb sh -c 'echo started; while true; do sleep 1; done')
echo "container ${id:0:12}"
mpid=$(p inspect --format '{{.State.ConmonPid}}' demo)
mexe=$(readlink -f "/proc/$mpid/exe")
echo "monitor pid $mpid runs $mexe"
[ "$mexe" = "$exe" ] || die "the container's monitor is $mexe, not $exe"
sleep 0.3
logs=$(p logs demo)
echo "$logs"
[ "$logs" = started ] || die "unexpected logs: $logs"
rc=0
p exec demo sh -c 'echo inside: $(hostname); exit 3' || rc=$?
echo "exec exit code: $rc"
[ $rc = 3 ] || die "exec exit code $rc, expected 3"
p stop -t 1 demo >/dev/null 2>&1
status=$(p inspect --format '{{.State.Status}} {{.State.ExitCode}}' demo)
echo "after stop: $status"
p rm demo >/dev/null
[ "$(p ps -a -q)" = "" ] || die "containers left behind"

if [ "${KC_DEMO_SKIP_VM:-0}" != 1 ]; then
        "$(dirname "$0")/demo-vm.sh" "$(dirname "$(dirname "$exe")")" "$work" "$vmdir" localhost/kata-conmon-demo-bb
fi
