/* Agent client internals shared by its request/IO half (client.c) and its stream half (client-stream.c). */
#pragma once

#include "client.h"

#define OUT_MAX (8u * 1024u * 1024u)
#define PENDING_MAX 4096u
#define STREAMS_MAX 4096u
#define IN_CAPACITY (KC_FRAME_HEADER_SIZE + KC_FRAME_MAX_PAYLOAD)

typedef struct Pending {
        KcAgentReplyFunc cb;
        void *userdata;
        JsonObject *sync_reply; /* synchronous calls: where the reply lands */
        int sync_result;
        bool sync_done;
        bool abandoned; /* a synchronous call that timed out: its late reply is dropped */
} Pending;

typedef struct Stream {
        uint32_t id;
        bool to_guest;
        bool ended;
        uint64_t credit;        /* to_guest: bytes we may still send */
        uint64_t outstanding;   /* from guest: received and not yet granted back */
        uint64_t pending_grant; /* from guest: consumed, not yet sent as a window frame */
        bool want_writable;
} Stream;

typedef struct FdSource {
        GSource source;
        KcAgentClient *client;
        gpointer tag;
} FdSource;

struct KcAgentClient {
        int fd;
        KcAgentClientOps ops;
        void *userdata;

        uint8_t *in;
        size_t in_len;
        GByteArray *out;
        size_t out_off;

        GHashTable *pending; /* request id -> Pending */
        GHashTable *streams; /* stream id -> Stream */
        uint32_t next_request;
        uint32_t next_stream;

        bool not_socket; /* the fd is a pipe or a tty: plain write() */
        bool hello;
        char *agent_version;
        char *kernel;
        int error;
        bool dispatching;

        FdSource *source;
};

void client_fail(KcAgentClient *c, int error);
int client_protocol_error(KcAgentClient *c, int error, const char *what);
void client_flush_some(KcAgentClient *c);
void client_update_source(KcAgentClient *c);
int client_handle_data(KcAgentClient *c, const KcFrame *f);
int client_handle_window(KcAgentClient *c, const KcFrame *f);
