/* The mux's client side: requests with per-client ids and streams, the listening socket, life cycle. */
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

/* ---- host clients -> guest ---- */

static void client_reply_error(MuxClient *c, uint32_t id, int error, const char *message) {
        g_autoptr(JsonObject) reply = kc_reply_new_error(error, "%s", message);

        (void) kc_json_append_frame(c->peer.out, KC_FRAME_REPLY, id, reply);
}

/* Maps the stdin/stdout/stderr members of create-container/exec to channel-wide ids. */
static int map_streams(MuxClient *c, JsonObject *req, MuxRequest *mreq, const char **ret_message) {
        static const char *const names[3] = {"stdin", "stdout", "stderr"};
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
                if (mux_stream_for_client(c, (uint32_t) local[i])) {
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
                s->global = mux_stream_alloc(m);
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
        id = mux_request_alloc(m);
        r = kc_json_append_frame(m->channel.out, KC_FRAME_REQUEST, id, req);
        if (r < 0) {
                for (size_t i = 0; i < 3; i++) {
                        MuxStream *s =
                                mreq->streams[i]
                                        ? g_hash_table_lookup(m->streams, GUINT_TO_POINTER(mreq->streams[i]))
                                        : NULL;
                        if (s)
                                mux_stream_remove(m, s);
                }
                g_free(mreq);
                client_reply_error(c, f->id, -r, "request too large");
                return 0;
        }
        g_hash_table_insert(m->requests, GUINT_TO_POINTER(id), mreq);
        mux_channel_send(m);
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
                s = mux_stream_for_client(c, f->id);
                if (!s)
                        return 0;
                /* Data only flows host -> guest on stdin; credit only for guest -> host streams. */
                if ((f->kind == KC_FRAME_DATA) != s->to_guest)
                        return -EPROTO;
                mux_frame_append_with_id(m->channel.out, raw, raw_len, s->global);
                if (f->kind == KC_FRAME_DATA && f->length == 0)
                        mux_stream_remove(m, s);
                mux_channel_send(m);
                return 0;
        default:
                log_warning("Client sent a %s frame", kc_frame_kind_to_string(f->kind));
                return -EPROTO;
        }
}

static gboolean on_client_in(int fd, GIOCondition cond, gpointer userdata) {
        MuxClient *c = userdata;
        int r = mux_peer_read(&c->peer), eof = r == 1;
        size_t off = 0;

        if (r < 0) {
                c->peer.in_source = 0;
                mux_client_drop(c, "read failed");
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
                        mux_client_drop(c, "protocol error");
                        return G_SOURCE_REMOVE;
                }
                off += used;
                if (c->mux->closed)
                        return G_SOURCE_REMOVE;
        }
        g_byte_array_remove_range(c->peer.in, 0, (guint) off);
        if (eof) {
                c->peer.in_source = 0;
                mux_client_drop(c, NULL);
                return G_SOURCE_REMOVE;
        }
        /* Error replies the mux gave itself. */
        if (c->peer.out->len > 0 && !c->peer.out_source) {
                guint self = c->peer.in_source;
                c->peer.in_source = 0; /* if dropped, this source must not be removed twice */
                if (!mux_client_send(c))
                        return G_SOURCE_REMOVE;
                c->peer.in_source = self;
        }
        return G_SOURCE_CONTINUE;
}

void mux_client_free(MuxClient *c) {
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
                                mux_channel_send(m);
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
        mux_peer_done(&c->peer);
        g_free(c);
}

void mux_client_drop(MuxClient *c, const char *why) {
        if (why)
                log_warning("Disconnecting mux client: %s", why);
        mux_client_free(c);
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
        mux_peer_init(&c->peer, m, c, fd);
        c->peer.in_source = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_client_in, c);
        m->clients = g_list_prepend(m->clients, c);
        mux_send_hello(c);
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
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
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
                mux_client_free(m->clients->data);
        if (m->listen_source)
                g_source_remove(m->listen_source);
        safe_close(m->listen_fd);
        if (m->listen_path)
                (void) unlink(m->listen_path);
        g_free(m->listen_path);
        mux_peer_done(&m->channel);
        if (m->hello)
                g_byte_array_unref(m->hello);
        g_hash_table_unref(m->requests);
        g_hash_table_unref(m->streams);
        g_free(m);
}
