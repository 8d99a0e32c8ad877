/* The mux's channel side: replays hello, routes guest frames to clients, never blocks on a peer. */
#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"
#include "fd-util.h"
#include "frame.h"
#include "log.h"
#include "message.h"
#include "vm-mux-internal.h"

static gboolean on_peer_out(int fd, GIOCondition cond, gpointer userdata);

void mux_peer_init(MuxPeer *p, KcMux *m, MuxClient *c, int fd) {
        p->mux = m;
        p->client = c;
        p->fd = fd;
        p->in = g_byte_array_new();
        p->out = g_byte_array_new();
}

void mux_peer_done(MuxPeer *p) {
        if (p->in_source)
                g_source_remove(p->in_source);
        if (p->out_source)
                g_source_remove(p->out_source);
        p->in_source = p->out_source = 0;
        p->fd = safe_close(p->fd);
        g_clear_pointer(&p->in, g_byte_array_unref);
        g_clear_pointer(&p->out, g_byte_array_unref);
}

/* Writes as much of the queue as the peer takes now. Returns 0 or -errno (peer broken). */
int mux_peer_flush(MuxPeer *p) {
        while (p->out->len > 0) {
                ssize_t n = send(p->fd, p->out->data, p->out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && errno == ENOTSOCK)
                        n = write(p->fd, p->out->data, p->out->len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        return -errno;
                }
                g_byte_array_remove_range(p->out, 0, (guint) n);
        }
        if (p->out->len > 0 && !p->out_source)
                p->out_source = g_unix_fd_add(p->fd, G_IO_OUT, on_peer_out, p);
        else if (p->out->len == 0 && p->out_source) {
                g_source_remove(p->out_source);
                p->out_source = 0;
        }
        return 0;
}

void mux_channel_send(KcMux *m) {
        int r;

        if (m->closed)
                return;
        r = mux_peer_flush(&m->channel);
        if (r < 0)
                mux_channel_fail(m, r);
        else if (m->channel.out->len > CHANNEL_QUEUE_MAX)
                mux_channel_fail(m, -ENOBUFS);
}

/* Returns false when the client was dropped (and freed). */
bool mux_client_send(MuxClient *c) {
        int r = mux_peer_flush(&c->peer);

        if (r < 0)
                mux_client_drop(c, "write failed");
        else if (c->peer.out->len > CLIENT_QUEUE_MAX)
                mux_client_drop(c, "output queue overflow");
        else
                return true;
        return false;
}

static gboolean on_peer_out(int fd, GIOCondition cond, gpointer userdata) {
        MuxPeer *p = userdata;

        p->out_source = 0;
        if (p->client)
                mux_client_send(p->client);
        else
                mux_channel_send(p->mux);
        return G_SOURCE_REMOVE;
}

/* Rewrites the id of a raw frame (header bytes 4..8). */
void mux_frame_append_with_id(GByteArray *out, const uint8_t *frame, size_t len, uint32_t id) {
        uint8_t be[4] = {id >> 24, id >> 16, id >> 8, id};
        guint at = out->len;

        g_byte_array_append(out, frame, (guint) len);
        memcpy(out->data + at + 4, be, 4);
}

MuxStream *mux_stream_for_client(MuxClient *c, uint32_t local) {
        return g_hash_table_lookup(c->streams, GUINT_TO_POINTER(local));
}

void mux_stream_remove(KcMux *m, MuxStream *s) {
        if (s->client)
                g_hash_table_remove(s->client->streams, GUINT_TO_POINTER(s->local));
        g_hash_table_remove(m->streams, GUINT_TO_POINTER(s->global));
}

uint32_t mux_stream_alloc(KcMux *m) {
        for (;;) {
                uint32_t id = m->next_stream;
                m->next_stream = m->next_stream >= KC_STREAM_ID_MAX ? 1 : m->next_stream + 1;
                if (!g_hash_table_contains(m->streams, GUINT_TO_POINTER(id)))
                        return id;
        }
}

uint32_t mux_request_alloc(KcMux *m) {
        for (;;) {
                uint32_t id = m->next_request;
                m->next_request = m->next_request >= UINT32_MAX - 1 ? 1 : m->next_request + 1;
                if (!g_hash_table_contains(m->requests, GUINT_TO_POINTER(id)))
                        return id;
        }
}

void mux_send_hello(MuxClient *c) {
        if (c->hello_sent || !c->mux->hello)
                return;
        c->hello_sent = true;
        g_byte_array_append(c->peer.out, c->mux->hello->data, c->mux->hello->len);
        mux_client_send(c);
}

/* ---- guest -> host ---- */

static int channel_frame(KcMux *m, const KcFrame *f, const uint8_t *raw, size_t raw_len) {
        g_autoptr(JsonObject) obj = NULL;
        int r;

        if (!m->hello) {
                const char *type = NULL;
                KcHello hello;
                if (f->kind != KC_FRAME_EVENT)
                        return log_error_errno(EPROTO, "Agent sent a %s frame before hello",
                                               kc_frame_kind_to_string(f->kind));
                r = kc_json_parse_object(f->payload, f->length, &obj);
                if (r >= 0)
                        r = kc_json_get_string(obj, "type", 64, true, &type);
                if (r >= 0 && strcmp(type, "hello") != 0)
                        r = -EPROTO;
                if (r >= 0)
                        r = kc_event_parse_hello(obj, &hello);
                if (r < 0)
                        return log_error_errno(EPROTO, "Agent's first frame is not a valid hello");
                m->hello = g_byte_array_new();
                g_byte_array_append(m->hello, raw, (guint) raw_len);
                log_debug("Agent hello: version %s, kernel %s", hello.agent_version, hello.kernel);
                for (GList *l = m->clients; l;) {
                        MuxClient *c = l->data;
                        l = l->next;
                        mux_send_hello(c);
                }
                return 0;
        }

        switch (f->kind) {
        case KC_FRAME_REPLY: {
                MuxRequest *req = g_hash_table_lookup(m->requests, GUINT_TO_POINTER(f->id));
                if (!req) {
                        log_warning("Dropping agent reply for unknown request %u", f->id);
                        return 0;
                }
                r = kc_json_parse_object(f->payload, f->length, &obj);
                if (r < 0)
                        return log_error_errno(EPROTO, "Agent sent a malformed reply");
                if (kc_reply_parse(obj, NULL) < 0)
                        /* The streams of a failed create/exec never carry data. */
                        for (size_t i = 0; i < 3; i++) {
                                MuxStream *s =
                                        req->streams[i]
                                                ? g_hash_table_lookup(m->streams,
                                                                      GUINT_TO_POINTER(req->streams[i]))
                                                : NULL;
                                if (s)
                                        mux_stream_remove(m, s);
                        }
                if (req->client) {
                        mux_frame_append_with_id(req->client->peer.out, raw, raw_len, req->client_id);
                        mux_client_send(req->client);
                }
                g_hash_table_remove(m->requests, GUINT_TO_POINTER(f->id));
                return 0;
        }
        case KC_FRAME_EVENT:
                r = kc_json_parse_object(f->payload, f->length, &obj);
                if (r < 0)
                        return log_error_errno(EPROTO, "Agent sent a malformed event");
                for (GList *l = m->clients; l;) {
                        MuxClient *c = l->data;
                        l = l->next;
                        if (!c->hello_sent)
                                continue;
                        g_byte_array_append(c->peer.out, raw, (guint) raw_len);
                        mux_client_send(c);
                }
                return 0;
        case KC_FRAME_DATA:
        case KC_FRAME_WINDOW: {
                MuxStream *s = g_hash_table_lookup(m->streams, GUINT_TO_POINTER(f->id));
                if (!s)
                        return 0; /* may race with the end of the stream */
                if (s->client) {
                        MuxClient *c = s->client;
                        mux_frame_append_with_id(c->peer.out, raw, raw_len, s->local);
                        if (f->kind == KC_FRAME_DATA && f->length == 0 && !s->to_guest)
                                mux_stream_remove(m, s);
                        mux_client_send(c);
                } else if (f->kind == KC_FRAME_DATA) {
                        if (f->length > 0) {
                                (void) kc_frame_append_window(m->channel.out, s->global, f->length);
                                mux_channel_send(m);
                        } else
                                mux_stream_remove(m, s);
                }
                return 0;
        }
        default:
                return log_error_errno(EPROTO, "Agent sent a %s frame", kc_frame_kind_to_string(f->kind));
        }
}

void mux_channel_fail(KcMux *m, int error) {
        if (m->closed)
                return;
        m->closed = true;
        log_debug("Agent channel closed: %s", g_strerror(-error));
        if (m->channel.in_source) {
                g_source_remove(m->channel.in_source);
                m->channel.in_source = 0;
        }
        /* Clients see the channel go away as their connection closing. */
        while (m->clients)
                mux_client_free(m->clients->data);
        if (m->closed_cb)
                m->closed_cb(error, m->userdata);
}

/* Reads what is there; returns 0, or -errno / 1 for EOF. */
int mux_peer_read(MuxPeer *p) {
        uint8_t buf[READ_CHUNK];

        for (;;) {
                ssize_t n = read(p->fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return 0;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 1;
                g_byte_array_append(p->in, buf, (guint) n);
                if (n < (ssize_t) sizeof(buf))
                        return 0;
        }
}

static gboolean on_channel_in(int fd, GIOCondition cond, gpointer userdata) {
        KcMux *m = userdata;
        int r = mux_peer_read(&m->channel), eof = r == 1;
        size_t off = 0;

        if (r < 0) {
                m->channel.in_source = 0;
                mux_channel_fail(m, r);
                return G_SOURCE_REMOVE;
        }
        while (!m->closed) {
                KcFrame f;
                size_t used;
                int d = kc_frame_decode(m->channel.in->data + off, m->channel.in->len - off, 0, &f, &used);
                if (d == 0)
                        break;
                if (d < 0 || channel_frame(m, &f, m->channel.in->data + off, used) < 0) {
                        m->channel.in_source = 0;
                        log_error("Protocol error on the agent channel: closing it");
                        mux_channel_fail(m, -EPROTO);
                        return G_SOURCE_REMOVE;
                }
                off += used;
        }
        if (m->closed)
                return G_SOURCE_REMOVE;
        g_byte_array_remove_range(m->channel.in, 0, (guint) off);
        if (eof) {
                m->channel.in_source = 0;
                mux_channel_fail(m, -ECONNRESET);
                return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
}

int kc_mux_new(int channel_fd, KcMuxClosedFunc closed, void *userdata, KcMux **ret) {
        KcMux *m = g_new0(KcMux, 1);

        (void) fd_set_nonblock(channel_fd, true);
        mux_peer_init(&m->channel, m, NULL, channel_fd);
        m->requests = g_hash_table_new_full(NULL, NULL, NULL, g_free);
        m->streams = g_hash_table_new_full(NULL, NULL, NULL, g_free);
        m->next_request = m->next_stream = 1;
        m->listen_fd = -EBADF;
        m->closed_cb = closed;
        m->userdata = userdata;
        m->channel.in_source = g_unix_fd_add(channel_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_channel_in, m);
        *ret = m;
        return 0;
}
