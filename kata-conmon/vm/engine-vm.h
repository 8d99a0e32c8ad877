/* The VM engine: the container lives in the pod's QEMU VM (sandbox, container and exec roles). */
#pragma once

#include <stdbool.h>

#include "engine.h"
#include "options.h"

int kc_engine_vm_new(const KcEngineParams *params, KcReaper *reaper, const KcEngineCallbacks *cb,
                     void *userdata, KcEngine **ret);
