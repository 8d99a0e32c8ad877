/* --sdnotify-socket: relay the container's sd_notify messages (filtered) to the host socket. */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"

struct KcSdNotify {
        int fd;
        int dir_fd;
        guint source;
        struct sockaddr_un host;
        socklen_t host_len;
};

static bool allowed(const char *line) {
        static const char *const exact[] = {"READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1",
                                            "WATCHDOG=trigger"};
        static const char *const prefixes[] = {"STATUS=", "ERRNO=", "BUSERROR=", "MONOTONIC_USEC="};

        for (size_t i = 0; i < ELEMENTSOF(exact); i++)
                if (strcmp(line, exact[i]) == 0)
                        return true;
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (g_str_has_prefix(line, prefixes[i]))
                        return true;
        return false;
}

char *kc_sdnotify_filter(const char *msg, size_t len) {
        g_autofree char *copy = g_strndup(msg, len);
        g_auto(GStrv) lines = g_strsplit(copy, "\n", -1);
        GString *out = g_string_new(NULL);

        for (char **l = lines; *l; l++) {
                if (!allowed(*l))
                        continue;
                if (out->len)
                        g_string_append_c(out, '\n');
                g_string_append(out, *l);
        }
        if (out->len == 0) {
                g_string_free(out, TRUE);
                return NULL;
        }
        return g_string_free(out, FALSE);
}

static gboolean on_message(int fd, GIOCondition cond, gpointer userdata) {
        KcSdNotify *n = userdata;
        char buf[4096];
        ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        g_autofree char *out = NULL;

        if (len <= 0)
                return G_SOURCE_CONTINUE;
        out = kc_sdnotify_filter(buf, (size_t) len);
        if (!out)
                return G_SOURCE_CONTINUE;
        int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return G_SOURCE_CONTINUE;
        if (sendto(s, out, strlen(out), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *) &n->host,
                   n->host_len) < 0)
                log_warning_errno(errno, "Failed to relay sd_notify message: %m");
        close(s);
        return G_SOURCE_CONTINUE;
}

int kc_sdnotify_new(const char *bundle, const char *host_socket, KcSdNotify **ret) {
        g_autofree char *dir = g_build_filename(bundle, "notify", NULL);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;

        if (strlen(host_socket) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "sd-notify socket path %s is too long", host_socket);
        dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/notify.sock", dfd);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create the notify socket: %m");
        (void) unlinkat(dfd, "notify.sock", 0);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Failed to bind %s/notify.sock: %m", dir);
        /* Any container user must be able to notify. */
        if (fchmodat(dfd, "notify.sock", 0777, 0) < 0)
                log_warning_errno(errno, "Failed to make %s/notify.sock writable: %m", dir);

        KcSdNotify *n = g_new0(KcSdNotify, 1);
        n->host.sun_family = AF_UNIX;
        strcpy(n->host.sun_path, host_socket);
        n->host_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(host_socket) + 1);
        n->fd = TAKE_FD(fd);
        n->dir_fd = TAKE_FD(dfd);
        n->source = g_unix_fd_add(n->fd, G_IO_IN, on_message, n);
        *ret = n;
        return 0;
}

void kc_sdnotify_free(KcSdNotify *n) {
        if (!n)
                return;
        if (n->source)
                g_source_remove(n->source);
        safe_close(n->fd);
        if (n->dir_fd >= 0)
                (void) unlinkat(n->dir_fd, "notify.sock", 0);
        safe_close(n->dir_fd);
        g_free(n);
}
