/* The attach socket: SEQPACKET clients get output packets and send stdin bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "logging.h"

typedef struct KcAttach KcAttach;

typedef struct KcAttachCallbacks {
        /* Bytes from a client for container stdin. Returns bytes taken (may be fewer than
         * len), -EAGAIN when stdin is full (then kc_attach_resume_input() later), or another
         * -errno to drop the input. */
        ssize_t (*input)(void *userdata, const char *buf, size_t len);
        /* A client closed its sending side. */
        void (*input_eof)(void *userdata);
} KcAttachCallbacks;

/* Per-client output backlog: a client this far behind is disconnected. */
#define KC_ATTACH_MAX_BACKLOG (4u * 1024u * 1024u)

/* Listens on <dir>/attach (bound through /proc/self/fd so long paths work). */
int kc_attach_new(const char *dir, const KcAttachCallbacks *cb, void *userdata, KcAttach **ret);
/* Sends one packet (stream id byte + data) to every client, never blocking. */
void kc_attach_broadcast(KcAttach *a, KcStream stream, const char *buf, size_t len);
/* Stdin has room again: retry pending client input. */
void kc_attach_resume_input(KcAttach *a);
/* Closes all clients and the listener (clients see EOF) and removes the socket file. */
void kc_attach_close(KcAttach *a);
void kc_attach_free(KcAttach *a);
