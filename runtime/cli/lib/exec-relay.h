/* Runs one process in a container through the mux and relays its stdio until it exits. */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>

#include "client.h"

typedef struct KrExecParams {
        const char *container_id;
        JsonObject *process; /* OCI process object */
        bool tty;
        int in_fd; /* -1: no stdin */
        int out_fd;
        int err_fd;     /* unused with tty */
        int winsize_fd; /* terminal to read the size from on SIGWINCH, or -1 */
        int ready_fd;   /* written with the exec reply ("ok\n" or an error text), then closed; or -1 */
} KrExecParams;

/* A random exec id, "kr-" and 16 hex digits. */
char *kr_exec_id_new(void);

/* Connects to the sandbox's mux, sends the exec request and relays until the process exits. Returns the
 * conmon-style exit status (>= 0: code, or 128 + signal) or -errno when the process could not be run or the
 * channel failed (logged). */
int kr_exec_run(const char *sandbox_dir, const KrExecParams *p);
