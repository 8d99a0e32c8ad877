/* The runtime root, process start times, and the state.json the VM engine shares with kata-runtime. */
#pragma once

#include <stdint.h>

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "kc-state.h"

#define KC_VM_DEFAULT_RUNTIME_ROOT KR_DEFAULT_ROOT

/* The runtime root from the monitor's --runtime-arg list (--root=R or --root R; last wins), else
 * fallback (the configuration's runtime_root), else KC_VM_DEFAULT_RUNTIME_ROOT. */
char *kc_vm_runtime_root(char *const *runtime_args, const char *fallback);


typedef struct KcVmState {
        const char *id;
        const char *role; /* "sandbox" | "container" */
        const char *sandbox_id;
        const char *bundle;
        pid_t pid;
        pid_t monitor_pid;
        uint64_t pid_start_time;
        const char *status; /* created | running | paused | stopped */
        int exit_status;    /* < 0: unknown */
        JsonObject *annotations;
        const char *sandbox_dir;
} KcVmState;

/* Formats the JSON of docs/vm-engine.md §4 (created = now). Pure but for the clock. */
char *kc_vm_state_to_json(const KcVmState *st, const char *created);
/* Creates R/<id>/ and writes state.json under the lock. */
int kc_vm_state_write(const char *root, const KcVmState *st);
/* Sets status "stopped" and exit_status in an existing state.json (under the lock). -ENOENT if
 * the state is gone (deleted meanwhile). */
int kc_vm_state_mark_stopped(const char *root, const char *id, int exit_status);
