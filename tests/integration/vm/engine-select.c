/* Test-only splice: picks the VM engine the way monitor.c will once it is wired in (kc_engine_vm_selected). */
#include "engine-vm.h"

int __real_kc_engine_local_new(const KcEngineParams *params, KcReaper *reaper, const KcEngineCallbacks *cb,
                               void *userdata, KcEngine **ret);
int __wrap_kc_engine_local_new(const KcEngineParams *params, KcReaper *reaper, const KcEngineCallbacks *cb,
                               void *userdata, KcEngine **ret);

int __wrap_kc_engine_local_new(const KcEngineParams *params, KcReaper *reaper, const KcEngineCallbacks *cb,
                               void *userdata, KcEngine **ret) {
        if (kc_engine_vm_selected(params->opts))
                return kc_engine_vm_new(params, reaper, cb, userdata, ret);
        return __real_kc_engine_local_new(params, reaper, cb, userdata, ret);
}
