/* The mux: replays hello, maps request and stream ids per client, routes frames, never blocks on a peer. */
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

static void client_free(MuxClient *c);
static void client_drop(MuxClient *c, const char *why);
static gboolean on_peer_out(int fd, GIOCondition cond, gpointer userdata);

static void peer_init(MuxPeer *p, KcMux *m, MuxClient *c, int fd) {
        p->mux = m;
        p->client = c;
        p->fd = fd;
        p->in = g_byte_array_new();
        p->out = g_byte_array_new();
}

static void peer_done(MuxPeer *p) {
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
static int peer_flush(MuxPeer *p) {
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

static void channel_fail(KcMux *m, int error);

static void channel_send(KcMux *m) {
        int r;

        if (m->closed)
                return;
        r = peer_flush(&m->channel);
        if (r < 0)
                channel_fail(m, r);
        else if (m->channel.out->len > CHANNEL_QUEUE_MAX)
                channel_fail(m, -ENOBUFS);
}

/* Returns false when the client was dropped (and freed). */
static bool client_send(MuxClient *c) {
        int r = peer_flush(&c->peer);

        if (r < 0)
                client_drop(c, "write failed");
        else if (c->peer.out->len > CLIENT_QUEUE_MAX)
                client_drop(c, "output queue overflow");
        else
                return true;
        return false;
}

static gboolean on_peer_out(int fd, GIOCondition cond, gpointer userdata) {
        MuxPeer *p = userdata;

        p->out_source = 0;
        if (p->client)
                client_send(p->client);
        else
                channel_send(p->mux);
        return G_SOURCE_REMOVE;
}

/* Rewrites the id of a raw frame (header bytes 4..8). */
static void frame_append_with_id(GByteArray *out, const uint8_t *frame, size_t len, uint32_t id) {
        uint8_t be[4] = { id >> 24, id >> 16, id >> 8, id };
        guint at = out->len;

        g_byte_array_append(out, frame, (guint) len);
        memcpy(out->data + at + 4, be, 4);
}

static MuxStream *stream_for_client(MuxClient *c, uint32_t local) {
        return g_hash_table_lookup(c->streams, GUINT_TO_POINTER(local));
}

static void stream_remove(KcMux *m, MuxStream *s) {
        if (s->client)
                g_hash_table_remove(s->client->streams, GUINT_TO_POINTER(s->local));
        g_hash_table_remove(m->streams, GUINT_TO_POINTER(s->global));
}

static uint32_t stream_alloc(KcMux *m) {
        for (;;) {
                uint32_t id = m->next_stream;
                m->next_stream = m->next_stream >= KC_STREAM_ID_MAX ? 1 : m->next_stream + 1;
                if (!g_hash_table_contains(m->streams, GUINT_TO_POINTER(id)))
                        return id;
        }
}

static uint32_t request_alloc(KcMux *m) {
        for (;;) {
                uint32_t id = m->next_request;
                m->next_request = m->next_request >= UINT32_MAX - 1 ? 1 : m->next_request + 1;
                if (!g_hash_table_contains(m->requests, GUINT_TO_POINTER(id)))
                        return id;
        }
}

static void send_hello(MuxClient *c) {
        if (c->hello_sent || !c->mux->hello)
                return;
        c->hello_sent = true;
        g_byte_array_append(c->peer.out, c->mux->hello->data, c->mux->hello->len);
        client_send(c);
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
                        send_hello(c);
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
                                MuxStream *s = req->streams[i] ?
                                        g_hash_table_lookup(m->streams, GUINT_TO_POINTER(req->streams[i])) : NULL;
                                if (s)
                                        stream_remove(m, s);
                        }
                if (req->client) {
                        frame_append_with_id(req->client->peer.out, raw, raw_len, req->client_id);
                        client_send(req->client);
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
                        client_send(c);
                }
                return 0;
        case KC_FRAME_DATA:
        case KC_FRAME_WINDOW: {
                MuxStream *s = g_hash_table_lookup(m->streams, GUINT_TO_POINTER(f->id));
                if (!s)
                        return 0; /* may race with the end of the stream */
                if (s->client) {
                        MuxClient *c = s->client;
                        frame_append_with_id(c->peer.out, raw, raw_len, s->local);
                        if (f->kind == KC_FRAME_DATA && f->length == 0 && !s->to_guest)
                                stream_remove(m, s);
                        client_send(c);
                } else if (f->kind == KC_FRAME_DATA) {
                        if (f->length > 0) {
                                (void) kc_frame_append_window(m->channel.out, s->global, f->length);
                                channel_send(m);
                        } else
                                stream_remove(m, s);
                }
                return 0;
        }
        default:
                return log_error_errno(EPROTO, "Agent sent a %s frame", kc_frame_kind_to_string(f->kind));
        }
}

static void channel_fail(KcMux *m, int error) {
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
                client_free(m->clients->data);
        if (m->closed_cb)
                m->closed_cb(error, m->userdata);
}

/* Reads what is there; returns 0, or -errno / 1 for EOF. */
static int peer_read(MuxPeer *p) {
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
        int r = peer_read(&m->channel), eof = r == 1;
        size_t off = 0;

        if (r < 0) {
                m->channel.in_source = 0;
                channel_fail(m, r);
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
                        channel_fail(m, -EPROTO);
                        return G_SOURCE_REMOVE;
                }
                off += used;
        }
        if (m->closed)
                return G_SOURCE_REMOVE;
        g_byte_array_remove_range(m->channel.in, 0, (guint) off);
        if (eof) {
                m->channel.in_source = 0;
                channel_fail(m, -ECONNRESET);
                return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
}

/* ---- host clients -> guest ---- */

static void client_reply_error(MuxClient *c, uint32_t id, int error, const char *message) {
        g_autoptr(JsonObject) reply = kc_reply_new_error(error, "%s", message);

        (void) kc_json_append_frame(c->peer.out, KC_FRAME_REPLY, id, reply);
}

/* Maps the stdin/stdout/stderr members of create-container/exec to channel-wide ids. */
static int map_streams(MuxClient *c, JsonObject *req, MuxRequest *mreq, const char **ret_message) {
        static const char *const names[3] = { "stdin", "stdout", "stderr" };
        KcMux *m = c->mux;
        int64_t local[3] = {};

        for (size_t i = 0; i < 3; i++) {
                int r = kc_json_get_int(req, names[i], 0, KC_STREAM_ID_MAX, false, &local[i]);
                if (r < 0) {
                        *ret_message = "invalid stream id";
                        return -EINVAL;
                }
                if (local[i] == 0)
                        continue;
                if (stream_for_client(c, (uint32_t) local[i])) {
                        *ret_message = "stream id in use";
                        return -EEXIST;
                }
                for (size_t j = 0; j < i; j++)
                        if (local[j] == local[i]) {
                                *ret_message = "stream id used twice";
                                return -EINVAL;
                        }
        }
        for (size_t i = 0; i < 3; i++) {
                if (local[i] == 0)
                        continue;
                MuxStream *s = g_new0(MuxStream, 1);
                s->global = stream_alloc(m);
                s->local = (uint32_t) local[i];
                s->client = c;
                s->to_guest = i == 0;
                g_hash_table_insert(m->streams, GUINT_TO_POINTER(s->global), s);
                g_hash_table_insert(c->streams, GUINT_TO_POINTER(s->local), s);
                mreq->streams[i] = s->global;
                json_object_set_int_member(req, names[i], s->global);
        }
        return 0;
}

static int client_request(MuxClient *c, const KcFrame *f) {
        KcMux *m = c->mux;
        g_autoptr(JsonObject) req = NULL;
        const char *type = NULL, *message = NULL;
        MuxRequest *mreq;
        uint32_t id;
        int r;

        r = kc_json_parse_object(f->payload, f->length, &req);
        if (r >= 0)
                r = kc_json_get_string(req, "type", 64, true, &type);
        if (r < 0) {
                client_reply_error(c, f->id, EINVAL, "malformed request");
                return 0;
        }
        if (!c->privileged && strcmp(type, "destroy-sandbox") == 0) {
                client_reply_error(c, f->id, EPERM, "destroy-sandbox is reserved to the sandbox monitor");
                return 0;
        }
        mreq = g_new0(MuxRequest, 1);
        mreq->client = c;
        mreq->client_id = f->id;
        if (strcmp(type, "create-container") == 0 || strcmp(type, "exec") == 0) {
                r = map_streams(c, req, mreq, &message);
                if (r < 0) {
                        g_free(mreq);
                        client_reply_error(c, f->id, -r, message);
                        return 0;
                }
        }
        id = request_alloc(m);
        r = kc_json_append_frame(m->channel.out, KC_FRAME_REQUEST, id, req);
        if (r < 0) {
                for (size_t i = 0; i < 3; i++) {
                        MuxStream *s = mreq->streams[i] ?
                                g_hash_table_lookup(m->streams, GUINT_TO_POINTER(mreq->streams[i])) : NULL;
                        if (s)
                                stream_remove(m, s);
                }
                g_free(mreq);
                client_reply_error(c, f->id, -r, "request too large");
                return 0;
        }
        g_hash_table_insert(m->requests, GUINT_TO_POINTER(id), mreq);
        channel_send(m);
        return 0;
}

static int client_frame(MuxClient *c, const KcFrame *f, const uint8_t *raw, size_t raw_len) {
        KcMux *m = c->mux;
        MuxStream *s;

        switch (f->kind) {
        case KC_FRAME_REQUEST:
                if (!m->hello) {
                        log_warning("Client sent a request before hello");
                        return -EPROTO;
                }
                return client_request(c, f);
        case KC_FRAME_DATA:
        case KC_FRAME_WINDOW:
                s = stream_for_client(c, f->id);
                if (!s)
                        return 0;
                /* Data only flows host -> guest on stdin; credit only for guest -> host streams. */
                if ((f->kind == KC_FRAME_DATA) != s->to_guest)
                        return -EPROTO;
                frame_append_with_id(m->channel.out, raw, raw_len, s->global);
                if (f->kind == KC_FRAME_DATA && f->length == 0)
                        stream_remove(m, s);
                channel_send(m);
                return 0;
        default:
                log_warning("Client sent a %s frame", kc_frame_kind_to_string(f->kind));
                return -EPROTO;
        }
}

static gboolean on_client_in(int fd, GIOCondition cond, gpointer userdata) {
        MuxClient *c = userdata;
        int r = peer_read(&c->peer), eof = r == 1;
        size_t off = 0;

        if (r < 0) {
                c->peer.in_source = 0;
                client_drop(c, "read failed");
                return G_SOURCE_REMOVE;
        }
        for (;;) {
                KcFrame f;
                size_t used;
                int d = kc_frame_decode(c->peer.in->data + off, c->peer.in->len - off,
                                        KC_FRAME_MAX_REQUEST_PAYLOAD, &f, &used);
                if (d == 0)
                        break;
                if (d < 0 || client_frame(c, &f, c->peer.in->data + off, used) < 0) {
                        c->peer.in_source = 0;
                        client_drop(c, "protocol error");
                        return G_SOURCE_REMOVE;
                }
                off += used;
                if (c->mux->closed)
                        return G_SOURCE_REMOVE;
        }
        g_byte_array_remove_range(c->peer.in, 0, (guint) off);
        if (eof) {
                c->peer.in_source = 0;
                client_drop(c, NULL);
                return G_SOURCE_REMOVE;
        }
        /* Error replies the mux gave itself. */
        if (c->peer.out->len > 0 && !c->peer.out_source) {
                guint self = c->peer.in_source;
                c->peer.in_source = 0; /* if dropped, this source must not be removed twice */
                if (!client_send(c))
                        return G_SOURCE_REMOVE;
                c->peer.in_source = self;
        }
        return G_SOURCE_CONTINUE;
}

static void client_free(MuxClient *c) {
        KcMux *m = c->mux;
        GHashTableIter it;
        gpointer v;

        m->clients = g_list_remove(m->clients, c);
        /* Its streams become orphans: output is discarded (and credited), stdin is closed. */
        g_hash_table_iter_init(&it, c->streams);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                MuxStream *s = v;
                s->client = NULL;
                g_hash_table_iter_remove(&it);
                if (s->to_guest) {
                        if (!m->closed) {
                                (void) kc_frame_append(m->channel.out, KC_FRAME_DATA, s->global, NULL, 0);
                                channel_send(m);
                        }
                        g_hash_table_remove(m->streams, GUINT_TO_POINTER(s->global));
                }
        }
        g_hash_table_iter_init(&it, m->requests);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                MuxRequest *r = v;
                if (r->client == c)
                        r->client = NULL;
        }
        g_hash_table_unref(c->streams);
        peer_done(&c->peer);
        g_free(c);
}

static void client_drop(MuxClient *c, const char *why) {
        if (why)
                log_warning("Disconnecting mux client: %s", why);
        client_free(c);
}

int kc_mux_add_client(KcMux *m, int fd, bool privileged) {
        MuxClient *c;

        if (g_list_length(m->clients) >= MAX_CLIENTS) {
                safe_close(fd);
                return log_warning_errno(EMFILE, "Too many mux clients");
        }
        (void) fd_set_nonblock(fd, true);
        (void) fd_set_cloexec(fd, true);
        c = g_new0(MuxClient, 1);
        c->mux = m;
        c->privileged = privileged;
        c->streams = g_hash_table_new(NULL, NULL);
        peer_init(&c->peer, m, c, fd);
        c->peer.in_source = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_client_in, c);
        m->clients = g_list_prepend(m->clients, c);
        send_hello(c);
        return 0;
}

static gboolean on_listen(int fd, GIOCondition cond, gpointer userdata) {
        KcMux *m = userdata;

        for (;;) {
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        break;
                }
                if (m->closed) {
                        close(cfd);
                        continue;
                }
                (void) kc_mux_add_client(m, cfd, false);
        }
        return G_SOURCE_CONTINUE;
}

int kc_mux_listen(KcMux *m, const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "Mux socket path too long: %s", path);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create the mux socket: %m");
        (void) unlink(path);
        /* 0600 from the start: no window in which another user could connect. */
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0)
                return log_error_errno(errno, "Failed to bind %s: %m", path);
        if (listen(fd, 64) < 0)
                return log_error_errno(errno, "Failed to listen on %s: %m", path);
        m->listen_fd = TAKE_FD(fd);
        m->listen_path = g_strdup(path);
        m->listen_source = g_unix_fd_add(m->listen_fd, G_IO_IN, on_listen, m);
        return 0;
}

int kc_mux_new(int channel_fd, KcMuxClosedFunc closed, void *userdata, KcMux **ret) {
        KcMux *m = g_new0(KcMux, 1);

        (void) fd_set_nonblock(channel_fd, true);
        peer_init(&m->channel, m, NULL, channel_fd);
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

unsigned kc_mux_n_clients(KcMux *m) {
        return g_list_length(m->clients);
}

bool kc_mux_has_hello(KcMux *m) {
        return m->hello != NULL;
}

void kc_mux_free(KcMux *m) {
        if (!m)
                return;
        m->closed = true;
        while (m->clients)
                client_free(m->clients->data);
        if (m->listen_source)
                g_source_remove(m->listen_source);
        safe_close(m->listen_fd);
        if (m->listen_path)
                (void) unlink(m->listen_path);
        g_free(m->listen_path);
        peer_done(&m->channel);
        if (m->hello)
                g_byte_array_unref(m->hello);
        g_hash_table_unref(m->requests);
        g_hash_table_unref(m->streams);
        g_free(m);
}
