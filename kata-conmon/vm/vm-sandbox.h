/* A pod VM owned by this monitor: sandbox dir, virtiofsd, QEMU, console capture and the mux. */
#pragma once

#include <sys/types.h>

#include "reaper.h"
#include "vm-config.h"
#include "vm-network.h"

typedef struct KcVmSandbox KcVmSandbox;

/* QEMU exited (wait status); the sandbox is dead. Also called when the agent channel breaks
 * (wait_status -1) — then QEMU is killed. */
typedef void (*KcVmSandboxGoneFunc)(int wait_status, void *userdata);

/* Creates S (which must not exist yet), S/shared, starts virtiofsd and QEMU, captures the console
 * and serves S/mux.sock. On failure everything created is undone and *ret_error says why. */
/* c: the configuration with the sandbox's annotations applied; vm_label: the SELinux label QEMU and
 * virtiofsd run under (NULL: none); net: the pod network, its taps become the VM's NICs (NULL: no
 * NIC); the sandbox takes it, also on failure. */
int kc_vm_sandbox_start(const char *sandbox_id, const char *sandbox_dir, const KcVmConfig *c,
                        const char *vm_label, KcVmNetwork *net, KcReaper *reaper, KcVmSandboxGoneFunc gone, void *userdata,
                        KcVmSandbox **ret, char **ret_error);
const char *kc_vm_sandbox_shared_dir(KcVmSandbox *sb);
pid_t kc_vm_sandbox_qemu_pid(KcVmSandbox *sb);
/* The pod network (NULL: none). */
const KcVmNetwork *kc_vm_sandbox_network(KcVmSandbox *sb);
/* A new privileged in-process client of the mux: the returned fd speaks the agent protocol. */
int kc_vm_sandbox_connect(KcVmSandbox *sb);
/* The last console and QEMU stderr lines, for error messages. */
char *kc_vm_sandbox_diagnostics(KcVmSandbox *sb);
/* Asks for QEMU's end: SIGKILL now if the guest did not power off by itself within timeout_ms
 * (the caller sent destroy-sandbox). The gone callback follows. */
void kc_vm_sandbox_stop(KcVmSandbox *sb, unsigned timeout_ms);
/* Kills whatever still runs (blocking reap), unmounts and removes S. */
void kc_vm_sandbox_free(KcVmSandbox *sb);
