/* The attach socket: SEQPACKET clients get output packets and send stdin bytes. */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "attach.h"
#include "log.h"

#define INPUT_CHUNK 32768

typedef struct Client {
        KcAttach *owner;
        int fd;
        guint in_source;
        guint out_source;
        GQueue out; /* GBytes packets not yet sent */
        size_t out_bytes;
        char *pending; /* input not yet taken by stdin */
        size_t pending_len, pending_off;
        bool read_closed;
        bool write_closed;
} Client;

struct KcAttach {
        int fd;
        int dir_fd;
        char *dir;
        guint source;
        GList *clients;
        KcAttachCallbacks cb;
        void *userdata;
};

static void client_free(Client *c) {
        if (c->in_source)
                g_source_remove(c->in_source);
        if (c->out_source)
                g_source_remove(c->out_source);
        g_queue_clear_full(&c->out, (GDestroyNotify) g_bytes_unref);
        g_free(c->pending);
        safe_close(c->fd);
        g_free(c);
}

static void client_drop(Client *c) {
        KcAttach *a = c->owner;
        a->clients = g_list_remove(a->clients, c);
        client_free(c);
}

static void client_maybe_drop(Client *c) {
        if (c->read_closed && c->write_closed)
                client_drop(c);
}

static void client_stop_writing(Client *c) {
        if (c->out_source) {
                g_source_remove(c->out_source);
                c->out_source = 0;
        }
        g_queue_clear_full(&c->out, (GDestroyNotify) g_bytes_unref);
        c->out_bytes = 0;
        c->write_closed = true;
        shutdown(c->fd, SHUT_WR);
}

/* Returns false when the client was dropped. */
static bool client_flush(Client *c) {
        GBytes *b;

        while ((b = g_queue_peek_head(&c->out))) {
                gsize len;
                const void *data = g_bytes_get_data(b, &len);
                ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                                return true;
                        if (errno == EINTR)
                                continue;
                        log_debug_errno(errno, "Attach client write failed: %m");
                        client_stop_writing(c);
                        client_maybe_drop(c);
                        return false;
                }
                g_queue_pop_head(&c->out);
                c->out_bytes -= len;
                g_bytes_unref(b);
        }
        return true;
}

static gboolean on_client_writable(int fd, GIOCondition cond, gpointer userdata) {
        Client *c = userdata;

        if (!client_flush(c))
                return G_SOURCE_REMOVE; /* client freed, its source id is gone with it */
        if (g_queue_is_empty(&c->out)) {
                c->out_source = 0;
                return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
}

static void client_pause_input(Client *c) {
        if (c->in_source) {
                g_source_remove(c->in_source);
                c->in_source = 0;
        }
}

static gboolean on_client_readable(int fd, GIOCondition cond, gpointer userdata);

static void client_resume_input(Client *c) {
        if (!c->in_source && !c->read_closed)
                c->in_source = g_unix_fd_add(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_client_readable, c);
}

/* Pushes pending input to stdin. Returns true if everything was taken. */
static bool client_push_input(Client *c) {
        KcAttach *a = c->owner;

        while (c->pending_off < c->pending_len) {
                ssize_t n = a->cb.input(a->userdata, c->pending + c->pending_off,
                                        c->pending_len - c->pending_off);
                if (n == -EAGAIN)
                        return false;
                if (n < 0)
                        break; /* stdin gone: drop the input */
                c->pending_off += (size_t) n;
        }
        g_clear_pointer(&c->pending, g_free);
        c->pending_len = c->pending_off = 0;
        return true;
}

static void client_read_eof(Client *c) {
        KcAttach *a = c->owner;

        client_pause_input(c);
        c->read_closed = true;
        a->cb.input_eof(a->userdata);
        client_maybe_drop(c);
}

static gboolean on_client_readable(int fd, GIOCondition cond, gpointer userdata) {
        Client *c = userdata;
        char buf[INPUT_CHUNK];
        ssize_t n;

        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return G_SOURCE_CONTINUE;
        if (n <= 0) {
                c->in_source = 0;
                client_read_eof(c);
                return G_SOURCE_REMOVE;
        }
        c->pending = g_memdup2(buf, n);
        c->pending_len = (size_t) n;
        c->pending_off = 0;
        if (!client_push_input(c)) {
                /* Backpressure: stop reading this client until stdin drains. */
                c->in_source = 0;
                return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
}

static gboolean on_accept(int fd, GIOCondition cond, gpointer userdata) {
        KcAttach *a = userdata;
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (cfd < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        log_warning_errno(errno, "Failed to accept an attach client: %m");
                return G_SOURCE_CONTINUE;
        }
        Client *c = g_new0(Client, 1);
        c->owner = a;
        c->fd = cfd;
        g_queue_init(&c->out);
        a->clients = g_list_append(a->clients, c);
        client_resume_input(c);
        log_debug("Accepted attach client on fd %d", cfd);
        return G_SOURCE_CONTINUE;
}

int kc_attach_new(const char *dir, const KcAttachCallbacks *cb, void *userdata, KcAttach **ret) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        int n;

        dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return log_error_errno(errno, "Failed to open attach socket directory %s: %m", dir);
        n = snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/attach", dfd);
        if (n < 0 || (size_t) n >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "Attach socket path too long");

        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create attach socket: %m");
        if (fchmod(fd, 0700) < 0)
                return log_error_errno(errno, "Failed to change attach socket permissions: %m");
        (void) unlinkat(dfd, "attach", 0);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Failed to bind attach socket %s/attach: %m", dir);
        if (listen(fd, 10) < 0)
                return log_error_errno(errno, "Failed to listen on attach socket: %m");

        KcAttach *a = g_new0(KcAttach, 1);
        a->fd = TAKE_FD(fd);
        a->dir_fd = TAKE_FD(dfd);
        a->dir = g_strdup(dir);
        a->cb = *cb;
        a->userdata = userdata;
        a->source = g_unix_fd_add(a->fd, G_IO_IN, on_accept, a);
        *ret = a;
        return 0;
}

void kc_attach_broadcast(KcAttach *a, KcStream stream, const char *buf, size_t len) {
        GBytes *packet = NULL;
        GList *next;

        if (!a)
                return;
        for (GList *l = a->clients; l; l = next) {
                Client *c = l->data;
                next = l->next;

                if (c->write_closed)
                        continue;
                if (!packet) {
                        char *p = g_malloc(len + 1);
                        p[0] = (char) stream;
                        memcpy(p + 1, buf, len);
                        packet = g_bytes_new_take(p, len + 1);
                }
                if (c->out_bytes + len + 1 > KC_ATTACH_MAX_BACKLOG) {
                        log_warning("Attach client on fd %d is too slow, disconnecting it", c->fd);
                        client_stop_writing(c);
                        c->read_closed = true;
                        client_drop(c);
                        continue;
                }
                g_queue_push_tail(&c->out, g_bytes_ref(packet));
                c->out_bytes += len + 1;
                if (!client_flush(c))
                        continue;
                if (!g_queue_is_empty(&c->out) && !c->out_source)
                        c->out_source = g_unix_fd_add(c->fd, G_IO_OUT, on_client_writable, c);
        }
        if (packet)
                g_bytes_unref(packet);
}

void kc_attach_resume_input(KcAttach *a) {
        if (!a)
                return;
        for (GList *l = a->clients; l; l = l->next) {
                Client *c = l->data;
                if (c->pending && !client_push_input(c))
                        return; /* stdin full again: keep the remaining clients paused */
                client_resume_input(c);
        }
}

void kc_attach_close(KcAttach *a) {
        if (!a)
                return;
        /* The socket file goes first: a client that sees EOF must also find it gone. */
        if (a->source) {
                g_source_remove(a->source);
                a->source = 0;
        }
        a->fd = safe_close(a->fd);
        if (a->dir_fd >= 0)
                (void) unlinkat(a->dir_fd, "attach", 0);
        a->dir_fd = safe_close(a->dir_fd);
        /* Give each client what is already queued, then close. */
        while (a->clients) {
                Client *c = a->clients->data;
                if (!c->write_closed)
                        (void) client_flush(c);
                if (a->clients && a->clients->data == c)
                        client_drop(c);
        }
}

void kc_attach_free(KcAttach *a) {
        if (!a)
                return;
        kc_attach_close(a);
        g_free(a->dir);
        g_free(a);
}
