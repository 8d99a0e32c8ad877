/* The shared core: one container (or exec session) from engine start to exit files. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "engine.h"
#include "logging.h"
#include "options.h"

typedef struct KcMonitor KcMonitor;

typedef struct KcMonitorParams {
        const KcOptions *opts;
        KcLogSet *logs;      /* borrowed */
        const char *bundle;  /* resolved bundle, NULL for exec without -b */
        const char *pidfile; /* resolved container pidfile */
        bool passthrough;
        int sync_fd;        /* _OCI_SYNCPIPE or -1 (taken over) */
        int attach_pipe_fd; /* _OCI_ATTACHPIPE or -1 (taken over) */
        int start_fd;       /* _OCI_STARTPIPE or -1 (exec-attach second read) */
        pid_t caller_pid;
        int oom_score_adj;        /* our value before we lowered it, INT_MIN if unknown */
        const int *inherited_fds; /* fds to close before announcing the exit */
        size_t n_inherited_fds;
        KcEngineNew engine_new; /* where the process lives; NULL: the local runtime engine */
} KcMonitorParams;

int kc_monitor_new(const KcMonitorParams *p, KcMonitor **ret);
/* Runs until the process exited (or failed to start). Returns our exit code. */
int kc_monitor_run(KcMonitor *m);
/* Whether the engine got as far as starting the runtime (the exit command then runs). */
bool kc_monitor_runtime_started(const KcMonitor *m);
void kc_monitor_free(KcMonitor *m);
