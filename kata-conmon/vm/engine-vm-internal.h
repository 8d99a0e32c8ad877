/* Shared state of the VM engine's files (engine-vm.c: ops and lifecycle; engine-vm-roles.c: start-up). */
#pragma once

#include "client.h"
#include "engine-vm.h"
#include "reaper.h"
#include "vm-bundle.h"
#include "vm-sandbox.h"
#include "vm-config.h"
#include "vm-standin.h"

typedef enum VmRole {
        VM_SANDBOX,
        VM_CONTAINER,
        VM_EXEC,
} VmRole;

typedef struct VmEngine {
        KcEngine base;
        KcEngineParams p;
        KcReaper *reaper;
        VmRole role;
        const char *cid;
        char *root, *sandbox_id, *sandbox_dir, *shared_dir, *exec_id;
        KcVmBundle bundle;
        JsonObject *process; /* exec: the process spec */
        KcVmConfig *config;
        KcVmSandbox *sb;
        KcAgentClient *client;
        uint32_t s_in, s_out, s_err;
        KcStandin *standin;
        pid_t pid; /* the pid reported to the caller */
        guint hello_timer, wait_source, idle_fail;
        char *fail_message;
        bool tty, started, stopped, failed, rootfs_mounted, state_written, exit_seen, exited_reported;
        int exit_code, exit_signal;
} VmEngine;

/* engine-vm-roles.c */
int vm_role_prepare(VmEngine *ve, char **ret_error);
void vm_on_hello(VmEngine *ve);
void vm_fail(VmEngine *ve, const char *format, ...) G_GNUC_PRINTF(2, 3);
void vm_report_started(VmEngine *ve, pid_t guest_pid);

/* engine-vm.c */
void vm_on_guest_exit(VmEngine *ve, const KcExitStatus *st);
void vm_on_sandbox_gone(int wait_status, void *userdata);
extern const KcAgentClientOps vm_client_ops;
extern const KcStandinCallbacks vm_standin_callbacks;
