/* The VM engine: the container lives in the pod's QEMU VM (sandbox, container and exec roles). */
#pragma once

#include <stdbool.h>

#include "engine.h"
#include "options.h"

/* basename(--runtime) is kata-runtime, or KATA_CONMON_ENGINE=vm (=local forces the local engine). */
bool kc_engine_vm_selected(const KcOptions *opts);

int kc_engine_vm_new(const KcEngineParams *params, KcReaper *reaper, const KcEngineCallbacks *cb,
                     void *userdata, KcEngine **ret);
