/* Host-side agent client: frame I/O on one non-blocking fd, request matching, stream credit. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "client-internal.h"
#include "fd-util.h"
#include "log.h"

KcAgentClient *kc_agent_client_new(int fd, const KcAgentClientOps *ops, void *userdata) {
        KcAgentClient *c = g_new0(KcAgentClient, 1);

        c->fd = fd;
        if (fd >= 0)
                (void) fd_set_nonblock(fd, true);
        if (ops)
                c->ops = *ops;
        c->userdata = userdata;
        c->in = g_malloc(IN_CAPACITY);
        c->out = g_byte_array_new();
        c->pending = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        c->streams = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        c->next_request = 1;
        c->next_stream = 1;
        return c;
}

void kc_agent_client_free(KcAgentClient *c) {
        if (!c)
                return;
        if (c->source) {
                g_source_destroy(&c->source->source);
                g_source_unref(&c->source->source);
        }
        g_hash_table_destroy(c->pending);
        g_hash_table_destroy(c->streams);
        g_byte_array_unref(c->out);
        g_free(c->in);
        g_free(c->agent_version);
        g_free(c->kernel);
        safe_close(c->fd);
        g_free(c);
}

int kc_agent_client_get_error(KcAgentClient *c) {
        return c->error;
}

bool kc_agent_client_has_hello(KcAgentClient *c) {
        return c->hello;
}

const char *kc_agent_client_get_agent_version(KcAgentClient *c) {
        return c->agent_version;
}

const char *kc_agent_client_get_kernel(KcAgentClient *c) {
        return c->kernel;
}

static bool want_write(KcAgentClient *c) {
        return c->fd >= 0 && c->hello && c->error == 0 && c->out->len > c->out_off;
}

/* Writes as much of the queue as the fd takes now. */
/* send(MSG_NOSIGNAL) on sockets: a guest that went away must not SIGPIPE the monitor or the CLI. */
static ssize_t write_nosignal(KcAgentClient *c, const void *buf, size_t len) {
        if (!c->not_socket) {
                ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n >= 0 || errno != ENOTSOCK)
                        return n;
                c->not_socket = true;
        }
        return write(c->fd, buf, len);
}

void client_flush_some(KcAgentClient *c) {
        while (want_write(c)) {
                ssize_t n = write_nosignal(c, c->out->data + c->out_off, c->out->len - c->out_off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                client_fail(c, -errno);
                        break;
                }
                c->out_off += (size_t) n;
        }
        if (c->out_off == c->out->len) {
                g_byte_array_set_size(c->out, 0);
                c->out_off = 0;
        } else if (c->out_off > 65536 && c->out_off > c->out->len / 2) {
                g_byte_array_remove_range(c->out, 0, (guint) c->out_off);
                c->out_off = 0;
        }
        client_update_source(c);
}

static void complete_pending(KcAgentClient *c, uint32_t id, Pending *p, int result, JsonObject *reply) {
        if (p->cb)
                p->cb(c, result, reply, p->userdata);
        else {
                p->sync_result = result;
                p->sync_reply = reply ? json_object_ref(reply) : NULL;
                p->sync_done = true;
                return; /* the synchronous caller frees it */
        }
        g_hash_table_remove(c->pending, GUINT_TO_POINTER(id));
}

void client_fail(KcAgentClient *c, int error) {
        GHashTableIter it;
        gpointer key, value;

        if (c->error != 0)
                return;
        c->error = error < 0 ? error : -ECONNRESET;
        if (c->source) {
                g_source_destroy(&c->source->source);
                g_source_unref(&c->source->source);
                c->source = NULL;
        }
        /* Fail every outstanding request; synchronous ones keep their entry for the caller. */
        g_hash_table_iter_init(&it, c->pending);
        while (g_hash_table_iter_next(&it, &key, &value)) {
                Pending *p = value;
                if (p->cb) {
                        KcAgentReplyFunc cb = p->cb;
                        void *ud = p->userdata;
                        g_hash_table_iter_steal(&it);
                        g_free(p);
                        cb(c, c->error, NULL, ud);
                } else if (!p->sync_done) {
                        p->sync_result = c->error;
                        p->sync_done = true;
                }
        }
        if (c->ops.closed)
                c->ops.closed(c, c->error, c->userdata);
}

int client_protocol_error(KcAgentClient *c, int error, const char *what) {
        log_error_errno(error, "Agent protocol violation (%s), closing the channel: %m", what);
        client_fail(c, error);
        return error;
}

static int handle_reply(KcAgentClient *c, const KcFrame *f) {
        g_autoptr(JsonObject) obj = NULL;
        Pending *p;
        int r;

        r = kc_json_parse_object(f->payload, f->length, &obj);
        if (r < 0)
                return client_protocol_error(c, r, "malformed reply");
        p = g_hash_table_lookup(c->pending, GUINT_TO_POINTER(f->id));
        if (p && p->abandoned) {
                /* The late reply of a synchronous call that timed out. */
                g_hash_table_remove(c->pending, GUINT_TO_POINTER(f->id));
                return 0;
        }
        if (!p || p->sync_done)
                /* Every request stays known until its reply, even after a timeout: this is forged. */
                return client_protocol_error(c, -EPROTO,
                                             "reply to a request never sent or already answered");
        r = kc_reply_parse(obj, NULL);
        if (r == -EBADMSG)
                return client_protocol_error(c, r, "malformed reply");
        complete_pending(c, f->id, p, r, obj);
        return 0;
}

static int handle_event(KcAgentClient *c, const KcFrame *f) {
        g_autoptr(JsonObject) obj = NULL;
        const char *type = NULL;
        int r;

        r = kc_json_parse_object(f->payload, f->length, &obj);
        if (r < 0)
                return client_protocol_error(c, r, "malformed event");
        if (kc_json_get_string(obj, "type", 64, true, &type) < 0 || type[0] == '\0')
                return client_protocol_error(c, -EBADMSG, "event without type");
        if (strcmp(type, "hello") == 0) {
                KcHello h;

                if (c->hello)
                        return client_protocol_error(c, -EPROTO, "second hello");
                if (kc_event_parse_hello(obj, &h) < 0)
                        return client_protocol_error(c, -EBADMSG, "malformed hello");
                if (h.protocol != KC_PROTOCOL_VERSION)
                        return client_protocol_error(c, -EPROTONOSUPPORT, "unsupported protocol version");
                c->hello = true;
                c->agent_version = g_strdup(h.agent_version);
                c->kernel = g_strdup(h.kernel);
                client_flush_some(c);
        }
        if (c->ops.event)
                c->ops.event(c, type, obj, c->userdata);
        return 0;
}

static int handle_frame(KcAgentClient *c, const KcFrame *f) {
        if (!c->hello && f->kind != KC_FRAME_EVENT)
                return client_protocol_error(c, -EPROTO, "frame before hello");
        switch (f->kind) {
        case KC_FRAME_REPLY:
                return handle_reply(c, f);
        case KC_FRAME_EVENT:
                return handle_event(c, f);
        case KC_FRAME_DATA:
                return client_handle_data(c, f);
        case KC_FRAME_WINDOW:
                return client_handle_window(c, f);
        case KC_FRAME_REQUEST:
                break;
        }
        return client_protocol_error(c, -EPROTO, "request frame from the guest");
}

/* Decodes and dispatches every complete frame in the input buffer. */
static int process_input(KcAgentClient *c) {
        size_t off = 0;
        int r = 0;

        c->dispatching = true;
        while (c->error == 0) {
                KcFrame f;
                size_t used;

                r = kc_frame_decode(c->in + off, c->in_len - off, 0, &f, &used);
                if (r < 0) {
                        r = client_protocol_error(c, r, "bad frame");
                        break;
                }
                if (r == 0)
                        break;
                r = handle_frame(c, &f);
                if (r < 0)
                        break;
                off += used;
        }
        c->dispatching = false;
        if (c->error != 0)
                return c->error;
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
        return 0;
}

static int read_some(KcAgentClient *c) {
        for (;;) {
                ssize_t n;

                if (c->error != 0)
                        return c->error;
                n = read(c->fd, c->in + c->in_len, IN_CAPACITY - c->in_len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        client_fail(c, -errno);
                        return c->error;
                }
                if (n == 0) {
                        client_fail(c, -ECONNRESET);
                        return c->error;
                }
                c->in_len += (size_t) n;
                if (process_input(c) < 0)
                        return c->error;
        }
}

int kc_agent_client_feed(KcAgentClient *c, const void *buf, size_t len) {
        const uint8_t *p = buf;

        while (len > 0 && c->error == 0) {
                size_t n = MIN(len, IN_CAPACITY - c->in_len);
                memcpy(c->in + c->in_len, p, n);
                c->in_len += n;
                p += n;
                len -= n;
                if (process_input(c) < 0)
                        break;
        }
        return c->error;
}

static gboolean source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data) {
        FdSource *s = (FdSource *) source;
        KcAgentClient *c = s->client;
        GIOCondition cond = g_source_query_unix_fd(source, s->tag);

        if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
                (void) read_some(c);
        if (c->error == 0 && (cond & G_IO_OUT))
                client_flush_some(c);
        return G_SOURCE_CONTINUE;
}

static GSourceFuncs source_funcs = {
        .dispatch = source_dispatch,
};

void client_update_source(KcAgentClient *c) {
        if (!c->source)
                return;
        g_source_modify_unix_fd(&c->source->source, c->source->tag,
                                G_IO_IN | G_IO_HUP | G_IO_ERR | (want_write(c) ? G_IO_OUT : 0));
}

void kc_agent_client_attach(KcAgentClient *c, GMainContext *ctx) {
        FdSource *s;

        g_return_if_fail(!c->source && c->fd >= 0);
        s = (FdSource *) g_source_new(&source_funcs, sizeof(FdSource));
        s->client = c;
        s->tag = g_source_add_unix_fd(&s->source, c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
        g_source_set_name(&s->source, "kc-agent-client");
        c->source = s;
        g_source_attach(&s->source, ctx);
        client_update_source(c);
}

static int enqueue_frame(KcAgentClient *c, int kind, uint32_t id, JsonObject *obj) {
        guint before = c->out->len;
        int r;

        if (c->out->len - c->out_off > OUT_MAX)
                return -ENOBUFS;
        r = kc_json_append_frame(c->out, kind, id, obj);
        if (r < 0) {
                g_byte_array_set_size(c->out, before);
                return r;
        }
        return 0;
}

static uint32_t alloc_request_id(KcAgentClient *c) {
        for (;;) {
                uint32_t id = c->next_request++;
                if (c->next_request == 0)
                        c->next_request = 1;
                if (id != 0 && !g_hash_table_contains(c->pending, GUINT_TO_POINTER(id)))
                        return id;
        }
}

static int64_t queue_request(KcAgentClient *c, JsonObject *req, KcAgentReplyFunc cb, void *userdata) {
        uint32_t id;
        Pending *p;
        int r;

        if (c->error != 0)
                return c->error;
        if (g_hash_table_size(c->pending) >= PENDING_MAX)
                return -ENOBUFS;
        id = alloc_request_id(c);
        r = enqueue_frame(c, KC_FRAME_REQUEST, id, req);
        if (r < 0)
                return r;
        p = g_new0(Pending, 1);
        p->cb = cb;
        p->userdata = userdata;
        g_hash_table_insert(c->pending, GUINT_TO_POINTER(id), p);
        client_flush_some(c);
        return id;
}

int64_t kc_agent_client_request(KcAgentClient *c, JsonObject *req, KcAgentReplyFunc cb, void *userdata) {
        g_return_val_if_fail(cb, -EINVAL);
        return queue_request(c, req, cb, userdata);
}

static int remaining_ms(int64_t deadline) {
        int64_t now;

        if (deadline < 0)
                return -1;
        now = g_get_monotonic_time();
        return now >= deadline ? 0 : (int) MIN((deadline - now + 999) / 1000, INT_MAX);
}

int kc_agent_client_iterate(KcAgentClient *c, int timeout_ms) {
        struct pollfd p = {.fd = c->fd};
        int r;

        if (c->error != 0)
                return c->error;
        if (c->dispatching)
                return -EDEADLK;
        p.events = POLLIN | (want_write(c) ? POLLOUT : 0);
        r = poll(&p, 1, timeout_ms);
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        if (r == 0)
                return -ETIMEDOUT;
        if (p.revents & (POLLIN | POLLHUP | POLLERR))
                (void) read_some(c);
        if (c->error == 0 && (p.revents & POLLOUT))
                client_flush_some(c);
        return c->error;
}

static int64_t deadline_from(int timeout_ms) {
        return timeout_ms < 0 ? -1 : g_get_monotonic_time() + (int64_t) timeout_ms * 1000;
}

int kc_agent_client_wait_hello(KcAgentClient *c, int timeout_ms) {
        int64_t deadline = deadline_from(timeout_ms);

        while (!c->hello) {
                int r = kc_agent_client_iterate(c, remaining_ms(deadline));
                if (r < 0)
                        return r;
        }
        return 0;
}

int kc_agent_client_flush(KcAgentClient *c, int timeout_ms) {
        int64_t deadline = deadline_from(timeout_ms);

        while (want_write(c)) {
                int r = kc_agent_client_iterate(c, remaining_ms(deadline));
                if (r < 0)
                        return r;
        }
        return c->error;
}

int kc_agent_client_call(KcAgentClient *c, JsonObject *req, int timeout_ms, JsonObject **ret_reply) {
        int64_t deadline = deadline_from(timeout_ms);
        int64_t id;
        Pending *p;
        int r = 0;

        if (c->dispatching)
                return -EDEADLK;
        id = queue_request(c, req, NULL, NULL);
        if (id < 0)
                return (int) id;
        p = g_hash_table_lookup(c->pending, GUINT_TO_POINTER((uint32_t) id));
        while (!p->sync_done) {
                r = kc_agent_client_iterate(c, remaining_ms(deadline));
                if (r < 0 && !p->sync_done)
                        break;
        }
        if (p->sync_done) {
                r = p->sync_result;
                if (ret_reply && p->sync_reply)
                        *ret_reply = json_object_ref(p->sync_reply);
        }
        if (p->sync_reply)
                json_object_unref(p->sync_reply);
        /* A timed-out request stays known (its late reply is dropped silently) by leaving a
         * callback-less, done entry behind. */
        if (!p->sync_done) {
                p->sync_done = true;
                p->abandoned = true;
                p->sync_reply = NULL;
        } else
                g_hash_table_remove(c->pending, GUINT_TO_POINTER((uint32_t) id));
        return r;
}
