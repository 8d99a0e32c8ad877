#!/usr/bin/env bash
# The VM part of the demo: a pod in a QEMU VM through kata-conmon and kata-runtime, with podman.
# Run by scripts/demo.sh (not alone) inside its private mount namespace, where /var/lib/containers and
# /run/kata-conmon are private tmpfs, after its runc part:
#   demo-vm.sh BUILD_DIR WORK_DIR VM_RUN_DIR IMAGE
# BUILD_DIR: absolute meson build dir; WORK_DIR: the demo's private dir (podman storage, containing
# IMAGE); VM_RUN_DIR: an empty private dir for the sandbox dirs (short path: sockets must fit
# sun_path). The guest image is built into WORK_DIR/guest-image (nothing of the machine is touched).
# KC_DEMO_ACCEL sets the accelerator: tcg (default: software emulation, works on any machine, a
# boot takes seconds), kvm, or auto (KVM when kata-runtime's probe finds /dev/kvm usable).
set -euo pipefail

[ $# = 4 ] || { echo "usage: demo-vm.sh BUILD_DIR WORK_DIR VM_RUN_DIR IMAGE" >&2; exit 2; }
build=$1
work=$2
vmdir=$3
image=$4
accel=${KC_DEMO_ACCEL:-tcg}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
trap 'echo "demo: the VM part failed: line $LINENO exited with status $?" >&2' ERR
now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

exe=$build/kata-conmon/kata-conmon
runtime=$build/runtime/cli/kata-runtime
agent=$build/runtime/agent/kata-agent
mkimage=$build/runtime/guest/kata-conmon-build-image
for f in "$exe" "$build/kata-conmon/kata-conmon-vm" "$runtime" "$agent" "$mkimage"; do
        [ -x "$f" ] || die "missing $f (is the build complete?)"
done
qemu=/usr/bin/qemu-system-x86_64
[ -x "$qemu" ] || die "missing $qemu (Debian package qemu-system-x86)"
if [ ! -d "$vmdir" ] || [ -n "$(ls -A "$vmdir")" ]; then die "VM_RUN_DIR $vmdir must be an empty directory"; fi

# Live (not zombie) processes of this demo's VMs, as "pid comm" lines: QEMU and virtiofsd (their
# command line names $vmdir), the VM monitors and their stand-ins (their environment does).
vm_procs() {
        local d pid st comm all
        for d in /proc/[0-9]*; do
                pid=${d#/proc/}
                comm=$(cat "$d/comm" 2>/dev/null) || continue
                case $comm in qemu-system-*|virtiofsd|kata-conmon*|kc-standin) ;; *) continue ;; esac
                all=$( { tr '\0' ' ' <"$d/cmdline"; tr '\0' ' ' <"$d/environ"; } 2>/dev/null) || true
                [[ $all == *"$vmdir"* ]] || continue
                st=$(awk '{ sub(/.*\) /, ""); print $1 }' "$d/stat" 2>/dev/null) || continue
                [ "$st" = Z ] || echo "$pid $comm"
        done
}
qemus() { vm_procs | awk '$2 ~ /^qemu/'; }

say "building the guest image (kata-conmon-build-image: host kernel + kata-agent + crun)"
t0=$(now)
"$mkimage" --agent "$agent" --output-dir "$work/guest-image" --quiet
echo "kernel $(stat -c %s "$work/guest-image/kernel") bytes, initrd $(stat -c %s "$work/guest-image/initrd")" \
        "bytes, built in $(secs "$t0" "$(now)") s into $work/guest-image"

conf=$work/kata-conmon.conf
cat >"$conf" <<CONF
[hypervisor.qemu]
kernel=$work/guest-image/kernel
initrd=$work/guest-image/initrd
accel=$accel
default_memory=512
[runtime]
image_cache_dir=$work/guest-image
CONF
export KATA_CONMON_CONF=$conf KATA_CONMON_VM_RUN_DIR=$vmdir
eff=$("$runtime" env | sed -n 's/.*"effective_accel" : "\([a-z]*\)".*/\1/p')
[ -n "$eff" ] || die "kata-runtime env did not print effective_accel"
echo "configuration $conf (KATA_CONMON_CONF): accel=$accel, QEMU will use $eff"

# podman's monitor gets the configuration through conmon_env_vars; kata-runtime through podman's env.
# kata-runtime and the monitor keep their state in /run/kata-conmon, which demo.sh made a private
# tmpfs (a --runtime-flag root=... does not reach the cleanup that podman's exit command runs: the
# state of every container was left behind when tried).
cat >"$work/containers-vm.conf" <<CONF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
conmon_env_vars = ["KATA_CONMON_CONF=$conf", "KATA_CONMON_VM_RUN_DIR=$vmdir"]
CONF
export CONTAINERS_CONF=$work/containers-vm.conf
pm=(podman --root "$work/root" --runroot "$work/runroot" --tmpdir "$work/tmp" --storage-driver vfs
    --cgroup-manager cgroupfs --events-backend file --network-config-dir "$work/networks"
    --conmon "$exe" --runtime "$runtime")
p() {
        echo "+ podman --conmon $exe --runtime $runtime [private storage] $*" >&2
        "${pm[@]}" "$@"
}
cleanup() {
        local pid
        "${pm[@]}" rm -a -f -t 0 >/dev/null 2>&1 || true
        # Only if the monitors failed to: the processes of our private sandbox dirs, by pid.
        for pid in $(vm_procs | awk '{ print $1 }'); do kill -KILL "$pid" 2>/dev/null || true; done
        grep -o " ${vmdir}[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
        find "$vmdir" -mindepth 1 -delete 2>/dev/null || true
}
trap cleanup EXIT
"${pm[@]}" image exists "$image" || die "image $image is not in the demo's storage"
[ -z "$(qemus)" ] || die "a QEMU of $vmdir runs already"

say "a pod in a VM: podman run --rm uname -r"
t0=$(now)
guest=$(p run --rm "$image" uname -r)
t1=$(now)
host=$(uname -r)
echo "host kernel:  $host"
echo "guest kernel: $guest"
t_rm=$(secs "$t0" "$t1")
echo "run --rm (VM boot, container, exit, VM teardown): $t_rm s"
[ -n "$guest" ] || die "no output from the guest"
[ -d "/lib/modules/$guest" ] || die "'$guest' is not a kernel installed for the guest image"
[ "$guest" != "$host" ] || echo "(the guest runs the same kernel version as the host)"
[ -z "$(qemus)" ] || die "QEMU still runs after run --rm: $(qemus)"

say "a detached pod in a VM: run -d, logs, exec, stop"
t0=$(now)
id=$(p run -d --name demo-vm "$image" \
        sh -c 'echo started in $(uname -r); trap "echo got SIGTERM; exit 7" TERM; while true; do sleep 1; done')
t1=$(now)
t_start=$(secs "$t0" "$t1")
echo "container ${id:0:12}: pod started in $t_start s (run -d returns once the VM is up and its agent started the container)"
logs=""
for _ in $(seq 100); do
        logs=$(p logs demo-vm 2>/dev/null) || true
        [ -n "$logs" ] && break
        sleep 0.1
done
echo "logs: $logs"
[ "$logs" = "started in $guest" ] || die "unexpected logs: $logs"
t_out=$(secs "$t0" "$(now)")
echo "pod start to the container's first output in the logs: $t_out s"
mpid=$(p inspect --format '{{.State.ConmonPid}}' demo-vm)
cpid=$(p inspect --format '{{.State.Pid}}' demo-vm)
echo "monitor pid $mpid runs $(readlink -f "/proc/$mpid/exe")"
echo "processes of this pod on the host (pid comm):"
vm_procs | sed 's/^/  /'
q=$(qemus)
[ "$(echo "$q" | grep -c .)" = 1 ] || die "expected exactly one QEMU for the pod, found: $q"
qpid=${q%% *}
[ "$cpid" = "$qpid" ] || die "podman's container pid $cpid is not QEMU's ($qpid)"
echo "podman's container pid $cpid is QEMU's; its parent is the monitor: $(ps -o ppid= -p "$qpid" | tr -d ' ')"
echo "  $(tr '\0' ' ' <"/proc/$qpid/cmdline" | grep -o -- '-machine [^ ]*\|-accel [^ ]*\|-cpu [^ ]*\|-m [^ ]*' |
        tr '\n' ' ')"
rc=0
p exec demo-vm sh -c 'echo exec in the guest: $(uname -r) uid $(id -u); exit 5' || rc=$?
echo "exec exit code: $rc"
[ $rc = 5 ] || die "exec exit code $rc, expected 5"
t0=$(now)
p stop -t 10 demo-vm >/dev/null
echo "stop took $(secs "$t0" "$(now)") s"
status=$(p inspect --format '{{.State.Status}} {{.State.ExitCode}}' demo-vm)
echo "after stop: $status; logs: $(p logs demo-vm | tr '\n' '|')"
[ "$status" = "exited 7" ] || die "expected 'exited 7' (the guest process trapped SIGTERM), got: $status"
p rm demo-vm >/dev/null

say "nothing left"
sleep 0.3
[ -z "$(qemus)" ] || die "QEMU left behind: $(qemus)"
left=$(vm_procs)
[ -z "$left" ] || die "processes left behind: $left"
[ -z "$(ls -A "$vmdir")" ] || die "sandbox dirs left in $vmdir: $(ls -A "$vmdir")"
! grep -q " $vmdir" /proc/self/mountinfo || die "mounts left under $vmdir"
[ "$(p ps -a -q)" = "" ] || die "containers left behind"
[ -z "$(ls -A /run/kata-conmon 2>/dev/null)" ] || die "state left in /run/kata-conmon: $(ls -A /run/kata-conmon)"
echo "no QEMU, virtiofsd, VM monitor, stand-in, sandbox dir or mount left"
echo
echo "VM timings ($eff): run --rm $t_rm s; pod start (run -d) $t_start s; to first log line $t_out s"
