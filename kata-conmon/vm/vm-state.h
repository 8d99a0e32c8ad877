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

/* Creates R/<id>/ and writes st as its state.json under the lock, with created = now. */
int kc_vm_state_write(const char *root, KrState *st);
/* Sets status "stopped" and exit_status in an existing state.json (under the lock). -ENOENT if
 * the state is gone (deleted meanwhile). */
int kc_vm_state_mark_stopped(const char *root, const char *id, int exit_status);
