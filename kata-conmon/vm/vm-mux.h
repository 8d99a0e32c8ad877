/* The sandbox's multiplexer: one agent channel shared by many host clients over S/mux.sock. */
#pragma once

#include <stdbool.h>

typedef struct KcMux KcMux;

/* Called once when the agent channel is gone (EOF, I/O or protocol error). */
typedef void (*KcMuxClosedFunc)(int error, void *userdata);

/* Takes ownership of channel_fd (the agent's byte stream). The channel is watched from the
 * default main context. */
int kc_mux_new(int channel_fd, KcMuxClosedFunc closed, void *userdata, KcMux **ret);
/* Creates and serves the listening socket at path (mode 0600). */
int kc_mux_listen(KcMux *m, const char *path);
/* Adds a connected client (ownership of fd passes); privileged clients may send
 * destroy-sandbox. */
int kc_mux_add_client(KcMux *m, int fd, bool privileged);
/* Number of clients connected right now (tests, diagnostics). */
unsigned kc_mux_n_clients(KcMux *m);
bool kc_mux_has_hello(KcMux *m);
void kc_mux_free(KcMux *m);
