/* The ctl and winsz FIFOs in the bundle: resize and log-reopen requests. */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "fd-util.h"
#include "log.h"

typedef struct Fifo {
        KcCtl *owner;
        int rfd, wfd;
        guint source;
        KcLineBuffer lines;
        bool winsz;
} Fifo;

struct KcCtl {
        Fifo ctl, winsz;
        KcCtlCallbacks cb;
        void *userdata;
};

int kc_ctl_parse_line(const char *line, int *ret_type, int *ret_height, int *ret_width) {
        int type, h, w;

        if (sscanf(line, "%d %d %d", &type, &h, &w) != 3)
                return -EINVAL;
        if (h < 0 || h > KC_CTL_MAX_SIZE || w < 0 || w > KC_CTL_MAX_SIZE)
                return -ERANGE;
        *ret_type = type;
        *ret_height = h;
        *ret_width = w;
        return 0;
}

int kc_ctl_parse_winsz(const char *line, int *ret_height, int *ret_width) {
        int h, w;

        if (sscanf(line, "%d %d", &h, &w) != 2)
                return -EINVAL;
        if (h < 0 || h > KC_CTL_MAX_SIZE || w < 0 || w > KC_CTL_MAX_SIZE)
                return -ERANGE;
        *ret_height = h;
        *ret_width = w;
        return 0;
}

void kc_line_buffer_feed(KcLineBuffer *lb, const char *data, size_t len, KcLineCallback cb, void *userdata) {
        for (size_t i = 0; i < len; i++) {
                char ch = data[i];

                if (ch == '\n') {
                        if (lb->discarding)
                                lb->discarding = false;
                        else {
                                lb->buf[lb->len] = '\0';
                                cb(lb->buf, userdata);
                        }
                        lb->len = 0;
                        continue;
                }
                if (lb->discarding)
                        continue;
                if (lb->len >= sizeof(lb->buf) - 1) {
                        log_warning("Control line too long, dropping it");
                        lb->len = 0;
                        lb->discarding = true;
                        continue;
                }
                lb->buf[lb->len++] = ch;
        }
}

static void on_ctl_line(const char *line, void *userdata) {
        KcCtl *c = userdata;
        int type, h, w, r;

        r = kc_ctl_parse_line(line, &type, &h, &w);
        if (r == -ERANGE) {
                log_warning("Ignoring ctl message with out-of-range size: %s", line);
                return;
        }
        if (r < 0) {
                log_warning("Ignoring malformed ctl message: %s", line);
                return;
        }
        switch (type) {
        case KC_CTL_RESIZE: {
                char buf[64];
                int n = snprintf(buf, sizeof(buf), "%d %d\n", h, w);
                /* Resizes go through the winsz FIFO, like conmon, so both paths behave alike. */
                if (write(c->winsz.wfd, buf, n) != n)
                        log_warning_errno(errno, "Failed to forward resize to winsz: %m");
                break;
        }
        case KC_CTL_REOPEN:
                c->cb.reopen(c->userdata);
                break;
        default:
                log_warning("Unknown ctl message type %d", type);
        }
}

static void on_winsz_line(const char *line, void *userdata) {
        KcCtl *c = userdata;
        int h, w;

        if (kc_ctl_parse_winsz(line, &h, &w) < 0) {
                log_warning("Ignoring malformed winsz message: %s", line);
                return;
        }
        c->cb.resize(c->userdata, h, w);
}

static gboolean on_fifo(int fd, GIOCondition cond, gpointer userdata) {
        Fifo *f = userdata;
        char buf[256];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                kc_line_buffer_feed(&f->lines, buf, (size_t) n, f->winsz ? on_winsz_line : on_ctl_line,
                                    f->owner);
        }
        return G_SOURCE_CONTINUE;
}

static int fifo_open(KcCtl *owner, Fifo *f, const char *bundle, const char *name, bool winsz) {
        g_autofree char *path = g_build_filename(bundle, name, NULL);

        f->owner = owner;
        f->winsz = winsz;
        f->rfd = f->wfd = -1;
        if (unlink(path) < 0 && errno != ENOENT)
                return log_error_errno(errno, "Failed to remove old %s: %m", path);
        if (mkfifo(path, 0660) < 0)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        f->rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (f->rfd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        /* Our own writer keeps the FIFO from reporting HUP when clients come and go. */
        f->wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (f->wfd < 0)
                return log_error_errno(errno, "Failed to open %s for writing: %m", path);
        f->source = g_unix_fd_add(f->rfd, G_IO_IN, on_fifo, f);
        return 0;
}

static void fifo_close(Fifo *f) {
        if (f->source)
                g_source_remove(f->source);
        f->source = 0;
        f->rfd = safe_close(f->rfd);
        f->wfd = safe_close(f->wfd);
}

int kc_ctl_new(const char *bundle, const KcCtlCallbacks *cb, void *userdata, KcCtl **ret) {
        KcCtl *c = g_new0(KcCtl, 1);
        int r;

        c->cb = *cb;
        c->userdata = userdata;
        c->ctl.rfd = c->ctl.wfd = c->winsz.rfd = c->winsz.wfd = -1;
        r = fifo_open(c, &c->ctl, bundle, "ctl", false);
        if (r >= 0)
                r = fifo_open(c, &c->winsz, bundle, "winsz", true);
        if (r < 0) {
                kc_ctl_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

void kc_ctl_free(KcCtl *c) {
        if (!c)
                return;
        fifo_close(&c->ctl);
        fifo_close(&c->winsz);
        g_free(c);
}
