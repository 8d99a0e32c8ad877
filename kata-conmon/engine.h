/* The engine interface: where the container process lives (local runtime, or a VM later). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "logging.h"
#include "options.h"

typedef struct KcEngine KcEngine;

/* Events an engine reports to the shared core. All are called from the main loop. */
typedef struct KcEngineCallbacks {
        /* The process runs (create: created and waiting for start) and has this host pid. */
        void (*started)(void *userdata, pid_t pid);
        /* Starting failed; message is what the caller should see (runtime stderr, ...). */
        void (*start_failed)(void *userdata, const char *message, int runtime_status);
        /* A chunk of container output (at most 8192 bytes). */
        void (*output)(void *userdata, KcStream stream, const char *buf, size_t len);
        /* The process exited: decoded status (exit code, or 128+signal). */
        void (*exited)(void *userdata, int status);
        /* Container stdin can take more bytes after write_stdin returned -EAGAIN. */
        void (*stdin_ready)(void *userdata);
        /* The container was OOM-killed (or hit its memory limit). */
        void (*oom)(void *userdata);
} KcEngineCallbacks;

/* What the core resolved from the options before starting the engine. */
typedef struct KcEngineParams {
        const KcOptions *opts;
        const char *bundle;  /* may be NULL for exec without -b */
        const char *pidfile; /* container pidfile */
        bool passthrough;    /* runtime inherits our 0/1/2 */
        int wait_fd;         /* exec-attach: read once more before the process starts, or -1 */
        pid_t caller_pid;    /* our parent at start-up (LISTEN_PID fix-up) */
        int oom_score_adj;   /* value to restore in children, or INT_MIN if unknown */
} KcEngineParams;

typedef struct KcEngineOps {
        const char *name;
        /* Begins starting the process; the outcome arrives through started/start_failed. */
        int (*start)(KcEngine *e);
        /* Non-blocking: returns bytes taken, -EAGAIN (stdin_ready follows) or -errno. */
        ssize_t (*write_stdin)(KcEngine *e, const void *buf, size_t len);
        void (*close_stdin)(KcEngine *e);
        int (*resize)(KcEngine *e, unsigned rows, unsigned cols);
        /* Signals the process (the runtime while it is still being created); group: its
         * whole process group. */
        int (*kill)(KcEngine *e, int sig, bool group);
        /* After the exit: deliver whatever output is still buffered, without blocking. */
        void (*drain)(KcEngine *e);
        /* Stops watching everything (timeout path): no more callbacks. */
        void (*stop)(KcEngine *e);
        void (*free)(KcEngine *e);
} KcEngineOps;

struct KcEngine {
        const KcEngineOps *ops;
        const KcEngineCallbacks *cb;
        void *userdata;
};

typedef struct KcReaper KcReaper;

/* The VM engine is wanted when basename(--runtime) is kata-runtime, or KATA_CONMON_ENGINE=vm
 * (KATA_CONMON_ENGINE=local forces the local engine). The VM engine lives in a separate binary,
 * kata-conmon-vm, so that the local monitor stays small (no json-glib/GObject). */
bool kc_engine_vm_selected(const KcOptions *opts);

/* How the core creates an engine; the reaper is shared (engines may fork helper processes). */
typedef int (*KcEngineNew)(const KcEngineParams *params, KcReaper *reaper, const KcEngineCallbacks *cb,
                           void *userdata, KcEngine **ret);

/* The local engine: runs `runtime create|restore|exec` exactly like conmon. */
int kc_engine_local_new(const KcEngineParams *params, KcReaper *reaper, const KcEngineCallbacks *cb,
                        void *userdata, KcEngine **ret);
