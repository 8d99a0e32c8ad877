/* The runtime's console socket (-t): a listening socket that receives the pty master. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "console.h"
#include "log.h"

struct KcConsole {
        int fd;
        char *path;
};

int kc_console_new(KcConsole **ret) {
        g_autofree char *tmpl = g_build_filename(g_get_tmp_dir(), "conmon-term.XXXXXX", NULL);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -EBADF;
        int tfd;

        /* mkstemp reserves a unique name; the socket replaces the file. */
        tfd = g_mkstemp(tmpl);
        if (tfd < 0)
                return log_error_errno(errno, "Failed to create console socket name in %s: %m",
                                       g_get_tmp_dir());
        close(tfd);
        unlink(tmpl);
        if (strlen(tmpl) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "Console socket path %s is too long", tmpl);
        strcpy(sa.sun_path, tmpl);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create console socket: %m");
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Failed to bind console socket %s: %m", tmpl);
        if (listen(fd, 128) < 0) {
                unlink(tmpl);
                return log_error_errno(errno, "Failed to listen on console socket %s: %m", tmpl);
        }

        KcConsole *c = g_new0(KcConsole, 1);
        c->fd = TAKE_FD(fd);
        c->path = g_steal_pointer(&tmpl);
        *ret = c;
        return 0;
}

const char *kc_console_path(const KcConsole *c) {
        return c->path;
}

int kc_console_fd(const KcConsole *c) {
        return c->fd;
}

static int recv_fd(int sock) {
        char name[4096];
        struct iovec iov = {name, sizeof(name)};
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } control;
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = sizeof(control.buf),
        };
        struct cmsghdr *cmsg;
        ssize_t n;
        int fd;

        /* The runtime sends right after connecting; wait a bounded time for it. */
        struct pollfd p = {.fd = sock, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
                return -ETIMEDOUT;
        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        cmsg = CMSG_FIRSTHDR(&msg);
        if (!cmsg || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
            cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
                return -EBADMSG;
        memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
        return fd;
}

int kc_console_try_receive(KcConsole *c) {
        _cleanup_close_ int conn = -EBADF;
        int fd;

        if (c->fd < 0)
                return -EBADF;
        conn = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
        unlink(c->path);
        c->fd = safe_close(c->fd);
        fd = recv_fd(conn);
        if (fd < 0)
                return log_error_errno(fd, "Failed to receive the terminal fd: %m");
        return fd;
}

void kc_console_free(KcConsole *c) {
        if (!c)
                return;
        if (c->fd >= 0) {
                unlink(c->path);
                safe_close(c->fd);
        }
        g_free(c->path);
        g_free(c);
}

int kc_send_fd(int sock, int fd) {
        char data = '\0';
        struct iovec iov = {&data, 1};
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = sizeof(control.buf),
        };
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
        if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}
