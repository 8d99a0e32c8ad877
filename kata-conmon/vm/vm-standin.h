/* The stand-in: a host child whose pid stands for a guest process (liveness, signals, exit status). */
#pragma once

#include <sys/types.h>

#include "reaper.h"

typedef struct KcStandin KcStandin;

typedef struct KcStandinCallbacks {
        /* The stand-in received sig (to be forwarded to the guest process). */
        void (*signal)(int sig, void *userdata);
        /* The stand-in is gone. by_request: it exited because kc_standin_finish() asked it to;
         * otherwise someone killed it (wait_status tells how). */
        void (*gone)(bool by_request, int wait_status, void *userdata);
} KcStandinCallbacks;

int kc_standin_spawn(KcReaper *reaper, const KcStandinCallbacks *cb, void *userdata, KcStandin **ret);
pid_t kc_standin_pid(const KcStandin *s);
/* Makes the stand-in exit like the guest process did: exit_code (0..255), or signal (> 0). */
int kc_standin_finish(KcStandin *s, int exit_code, int signal);
/* SIGKILLs it if still running and stops watching. */
void kc_standin_free(KcStandin *s);
