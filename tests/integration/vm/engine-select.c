/* Test-only splice: picks the VM engine the way monitor.c will once it is wired in (kc_engine_vm_selected).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "engine-vm.h"
#include "log.h"

int __real_kc_engine_local_new(const KcEngineParams *params, KcReaper *reaper, const KcEngineCallbacks *cb,
                               void *userdata, KcEngine **ret);
int __wrap_kc_engine_local_new(const KcEngineParams *params, KcReaper *reaper, const KcEngineCallbacks *cb,
                               void *userdata, KcEngine **ret);

/* KC_VM_TEST_LOG=path: the monitor's diagnostics also go to this file (tests read the guest console). */
static void file_sink(const KcLogRecord *rec, void *userdata) {
        FILE *f = userdata;
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        fprintf(f, "%ld.%03ld [%d] <%d> %s\n", (long) ts.tv_sec, ts.tv_nsec / 1000000, (int) getpid(),
                rec->priority, rec->message);
        fflush(f);
}

int __wrap_kc_engine_local_new(const KcEngineParams *params, KcReaper *reaper, const KcEngineCallbacks *cb,
                               void *userdata, KcEngine **ret) {
        const char *path = getenv("KC_VM_TEST_LOG");

        if (path && path[0]) {
                FILE *f = fopen(path, "ae");
                if (f) {
                        kc_log_set_sink(file_sink, f);
                        if (kc_log_get_level() < LOG_INFO)
                                kc_log_set_level(LOG_INFO);
                }
        }
        if (kc_engine_vm_selected(params->opts))
                return kc_engine_vm_new(params, reaper, cb, userdata, ret);
        return __real_kc_engine_local_new(params, reaper, cb, userdata, ret);
}
