/* Host-side agent client: asynchronous from a GMainLoop (monitor) or synchronous (short-lived CLI). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"
#include "message.h"

typedef struct KcAgentClient KcAgentClient;

/* result: 0 for {"ok":true}; the negative errno of an error reply; -ECONNRESET/-EPROTO when the
 * channel died before the reply came. reply is NULL unless a reply frame arrived. */
typedef void (*KcAgentReplyFunc)(KcAgentClient *c, int result, JsonObject *reply, void *userdata);

typedef struct KcAgentClientOps {
        /* Every event, including hello; type is validated (non-empty, <= 64 bytes). */
        void (*event)(KcAgentClient *c, const char *type, JsonObject *event, void *userdata);
        /* Bytes of a guest -> host stream opened with kc_agent_client_stream_open(); len == 0 marks
         * its end. Call kc_agent_client_consumed() once the bytes are handed on. */
        void (*data)(KcAgentClient *c, uint32_t stream, const uint8_t *buf, size_t len, void *userdata);
        /* A host -> guest stream got credit again after a short write. */
        void (*writable)(KcAgentClient *c, uint32_t stream, void *userdata);
        /* The channel is gone (EOF, I/O or protocol error); called once. Do not free the client
         * from inside a callback. */
        void (*closed)(KcAgentClient *c, int error, void *userdata);
} KcAgentClientOps;

/* Takes ownership of fd (a stream socket or pty; made non-blocking). ops may be NULL. */
KcAgentClient *kc_agent_client_new(int fd, const KcAgentClientOps *ops, void *userdata);
void kc_agent_client_free(KcAgentClient *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KcAgentClient, kc_agent_client_free)

/* Asynchronous use: watch the fd from ctx (NULL = default context). */
void kc_agent_client_attach(KcAgentClient *c, GMainContext *ctx);

/* 0 while usable, else the negative errno that closed it. */
int kc_agent_client_get_error(KcAgentClient *c);
bool kc_agent_client_has_hello(KcAgentClient *c);
const char *kc_agent_client_get_agent_version(KcAgentClient *c);
const char *kc_agent_client_get_kernel(KcAgentClient *c);

/* Queues a request (sent once hello was seen). Consumes nothing: req stays the caller's. The
 * reply callback runs exactly once. Returns the request id (>= 1) or -ENOBUFS (outgoing queue
 * full, too many outstanding requests), -EMSGSIZE, -ECONNRESET. */
int64_t kc_agent_client_request(KcAgentClient *c, JsonObject *req, KcAgentReplyFunc cb, void *userdata);

/* Stream ids: allocate a fresh one (never 0, never in use) and register it. to_guest: stdin. */
uint32_t kc_agent_client_stream_alloc(KcAgentClient *c, bool to_guest);
int kc_agent_client_stream_open(KcAgentClient *c, uint32_t stream, bool to_guest);
void kc_agent_client_stream_close(KcAgentClient *c, uint32_t stream);

/* Queues up to len bytes on a host -> guest stream, as far as the credit allows. Returns the
 * number of bytes taken (0: no credit now, wait for the writable callback) or -errno. len == 0
 * sends the end-of-stream frame and closes the stream. */
ssize_t kc_agent_client_write(KcAgentClient *c, uint32_t stream, const void *buf, size_t len);
/* Returns n bytes of credit for a guest -> host stream. */
int kc_agent_client_consumed(KcAgentClient *c, uint32_t stream, size_t n);

/* Synchronous use (no main loop needed; works attached or not). All take a timeout in ms (-1 =
 * forever) and return -ETIMEDOUT when it passes. */
int kc_agent_client_wait_hello(KcAgentClient *c, int timeout_ms);
/* Sends req and waits for its reply; returns as kc_reply_parse() does. *ret_reply (optional)
 * gets a reference to the reply object, also for error replies. */
int kc_agent_client_call(KcAgentClient *c, JsonObject *req, int timeout_ms, JsonObject **ret_reply);
/* Polls once and processes what arrived (callbacks run); returns 0, -ETIMEDOUT or -errno. */
int kc_agent_client_iterate(KcAgentClient *c, int timeout_ms);
/* Waits until the outgoing queue is empty. */
int kc_agent_client_flush(KcAgentClient *c, int timeout_ms);

/* Feeds raw bytes as if read from the channel (tests, fuzzing). Returns 0 or the error that
 * closed the client. */
int kc_agent_client_feed(KcAgentClient *c, const void *buf, size_t len);
