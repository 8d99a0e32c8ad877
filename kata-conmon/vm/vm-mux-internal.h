/* Internals shared by the mux's channel side (vm-mux.c) and client side (vm-mux-client.c). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame.h"
#include "vm-mux.h"

#define CLIENT_QUEUE_MAX (4u * 1024u * 1024u)
#define CHANNEL_QUEUE_MAX (64u * 1024u * 1024u)
#define READ_CHUNK 65536
#define MAX_CLIENTS 1024

typedef struct MuxClient MuxClient;

typedef struct MuxPeer {
        KcMux *mux;
        MuxClient *client; /* NULL: the agent channel */
        int fd;
        GByteArray *in, *out;
        guint in_source, out_source;
} MuxPeer;

struct MuxClient {
        KcMux *mux;
        MuxPeer peer;
        bool privileged;
        bool hello_sent;
        GHashTable *streams; /* client stream id -> MuxStream* */
};

typedef struct MuxStream {
        uint32_t global;
        uint32_t local;
        MuxClient *client; /* NULL: orphaned, output discarded and credited */
        bool to_guest;
} MuxStream;

typedef struct MuxRequest {
        MuxClient *client; /* NULL once the client is gone */
        uint32_t client_id;
        uint32_t streams[3];
} MuxRequest;

struct KcMux {
        MuxPeer channel;
        GByteArray *hello; /* the raw hello frame */
        GList *clients;
        GHashTable *requests; /* global id -> MuxRequest* */
        GHashTable *streams;  /* global stream id -> MuxStream* */
        uint32_t next_request, next_stream;
        int listen_fd;
        guint listen_source;
        char *listen_path;
        bool closed;
        KcMuxClosedFunc closed_cb;
        void *userdata;
};

void mux_peer_init(MuxPeer *p, KcMux *m, MuxClient *c, int fd);
void mux_peer_done(MuxPeer *p);
int mux_peer_flush(MuxPeer *p);
/* Reads what is there; returns 0, or -errno / 1 for EOF. */
int mux_peer_read(MuxPeer *p);
void mux_channel_send(KcMux *m);
void mux_channel_fail(KcMux *m, int error);
/* Returns false when the client was dropped (and freed). */
bool mux_client_send(MuxClient *c);
void mux_client_free(MuxClient *c);
void mux_client_drop(MuxClient *c, const char *why);
/* Appends a raw frame with its id (header bytes 4..8) replaced. */
void mux_frame_append_with_id(GByteArray *out, const uint8_t *frame, size_t len, uint32_t id);
MuxStream *mux_stream_for_client(MuxClient *c, uint32_t local);
void mux_stream_remove(KcMux *m, MuxStream *s);
uint32_t mux_stream_alloc(KcMux *m);
uint32_t mux_request_alloc(KcMux *m);
void mux_send_hello(MuxClient *c);
