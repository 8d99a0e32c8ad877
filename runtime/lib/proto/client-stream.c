/* Agent client streams: stdio stream ids, credit windows in both directions, data frames. */
#include <errno.h>
#include <string.h>

#include "client-internal.h"

int client_handle_data(KcAgentClient *c, const KcFrame *f) {
        Stream *s = g_hash_table_lookup(c->streams, GUINT_TO_POINTER(f->id));

        if (!s || s->to_guest || s->ended)
                return 0; /* may race with the stream's end: drop */
        if (s->outstanding + f->length > KC_WINDOW_INITIAL)
                return client_protocol_error(c, -EPROTO, "data beyond the stream's credit window");
        s->outstanding += f->length;
        if (f->length == 0)
                s->ended = true;
        if (c->ops.data)
                c->ops.data(c, f->id, f->payload, f->length, c->userdata);
        return 0;
}

int client_handle_window(KcAgentClient *c, const KcFrame *f) {
        Stream *s = g_hash_table_lookup(c->streams, GUINT_TO_POINTER(f->id));

        if (!s || !s->to_guest || s->ended)
                return 0;
        if (s->credit + f->window > KC_STREAM_ID_MAX)
                return client_protocol_error(c, -EPROTO, "credit window overflow");
        s->credit += f->window;
        if (s->want_writable) {
                s->want_writable = false;
                if (c->ops.writable)
                        c->ops.writable(c, f->id, c->userdata);
        }
        return 0;
}

uint32_t kc_agent_client_stream_alloc(KcAgentClient *c, bool to_guest) {
        for (;;) {
                uint32_t id = c->next_stream++;
                if (c->next_stream > KC_STREAM_ID_MAX)
                        c->next_stream = 1;
                if (!g_hash_table_contains(c->streams, GUINT_TO_POINTER(id))) {
                        if (kc_agent_client_stream_open(c, id, to_guest) < 0)
                                return 0;
                        return id;
                }
        }
}

int kc_agent_client_stream_open(KcAgentClient *c, uint32_t stream, bool to_guest) {
        Stream *s;

        if (stream == 0 || stream > KC_STREAM_ID_MAX)
                return -EINVAL;
        if (g_hash_table_contains(c->streams, GUINT_TO_POINTER(stream)))
                return -EEXIST;
        if (g_hash_table_size(c->streams) >= STREAMS_MAX)
                return -ENOBUFS;
        s = g_new0(Stream, 1);
        s->id = stream;
        s->to_guest = to_guest;
        s->credit = to_guest ? KC_WINDOW_INITIAL : 0;
        g_hash_table_insert(c->streams, GUINT_TO_POINTER(stream), s);
        return 0;
}

void kc_agent_client_stream_close(KcAgentClient *c, uint32_t stream) {
        g_hash_table_remove(c->streams, GUINT_TO_POINTER(stream));
}

ssize_t kc_agent_client_write(KcAgentClient *c, uint32_t stream, const void *buf, size_t len) {
        Stream *s = g_hash_table_lookup(c->streams, GUINT_TO_POINTER(stream));
        size_t n;
        int r;

        if (c->error != 0)
                return c->error;
        if (!s || !s->to_guest || s->ended)
                return -EBADF;
        if (len == 0) {
                r = kc_frame_append(c->out, KC_FRAME_DATA, stream, NULL, 0);
                if (r < 0)
                        return r;
                s->ended = true;
                client_flush_some(c);
                return 0;
        }
        n = MIN(MIN(len, (size_t) s->credit), (size_t) KC_FRAME_MAX_PAYLOAD);
        if (n == 0) {
                s->want_writable = true;
                return 0;
        }
        r = kc_frame_append(c->out, KC_FRAME_DATA, stream, buf, n);
        if (r < 0)
                return r;
        s->credit -= n;
        client_flush_some(c);
        return (ssize_t) n;
}

int kc_agent_client_consumed(KcAgentClient *c, uint32_t stream, size_t n) {
        Stream *s = g_hash_table_lookup(c->streams, GUINT_TO_POINTER(stream));
        int r;

        if (c->error != 0)
                return c->error;
        if (!s || s->to_guest)
                return -EBADF;
        if (n > s->outstanding)
                return -EINVAL;
        if (s->ended)
                return 0;
        s->pending_grant += n;
        /* Batch window frames: the sender still has at least 3/4 of its window meanwhile. */
        if (s->pending_grant < KC_WINDOW_INITIAL / 4)
                return 0;
        r = kc_frame_append_window(c->out, stream, (uint32_t) s->pending_grant);
        if (r < 0)
                return r;
        s->outstanding -= s->pending_grant;
        s->pending_grant = 0;
        client_flush_some(c);
        return 0;
}
