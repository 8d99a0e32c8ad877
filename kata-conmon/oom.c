/* OOM: our own oom_score_adj, and watching the container's memory cgroup (v1 and v2). */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "log.h"
#include "oom.h"

struct KcOomWatch {
        bool v2;
        int fd;         /* eventfd (v1) or inotify fd (v2) */
        int control_fd; /* v1: memory.oom_control */
        guint source;
        char *dir; /* cgroup directory */
        long long last_oom, last_oom_kill;
        KcOomCallback cb;
        void *userdata;
};

int kc_oom_score_adj_set(int value, int *ret_old) {
        _cleanup_free_ char *old = NULL;
        char buf[32];
        int fd, r, len;

        r = read_file_bounded("/proc/self/oom_score_adj", 64, &old, NULL);
        if (r >= 0 && ret_old && safe_atoi(g_strstrip(old), ret_old) < 0)
                *ret_old = 0;
        fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        len = snprintf(buf, sizeof(buf), "%d", value);
        r = write(fd, buf, len) == len ? 0 : negative_errno();
        close(fd);
        return r;
}

char *kc_oom_cgroup_path(const char *proc_cgroup, const char *controller) {
        g_auto(GStrv) lines = g_strsplit(proc_cgroup, "\n", -1);

        for (char **l = lines; *l; l++) {
                char *c1 = strchr(*l, ':'), *c2;
                if (!c1)
                        continue;
                c2 = strchr(c1 + 1, ':');
                if (!c2)
                        continue;
                if (controller[0] == '\0') {
                        if (c2 == c1 + 1 && strncmp(*l, "0:", 2) == 0)
                                return g_strdup(c2 + 1);
                        continue;
                }
                g_autofree char *ctrls = g_strndup(c1 + 1, c2 - c1 - 1);
                g_auto(GStrv) names = g_strsplit(ctrls, ",", -1);
                for (char **n = names; *n; n++)
                        if (strcmp(*n, controller) == 0)
                                return g_strdup(c2 + 1);
        }
        return NULL;
}

int kc_oom_parse_events(const char *text, long long *ret_oom, long long *ret_oom_kill) {
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        long long oom = 0, kill = 0;

        for (char **l = lines; *l; l++) {
                long long v;
                if (sscanf(*l, "oom %lld", &v) == 1 && strncmp(*l, "oom ", 4) == 0)
                        oom = v;
                else if (sscanf(*l, "oom_kill %lld", &v) == 1 && strncmp(*l, "oom_kill ", 9) == 0)
                        kill = v;
        }
        *ret_oom = oom;
        *ret_oom_kill = kill;
        return 0;
}

static bool v2_check(KcOomWatch *w) {
        g_autofree char *path = g_build_filename(w->dir, "memory.events", NULL);
        _cleanup_free_ char *text = NULL;
        long long oom, kill;
        bool hit = false;

        if (read_file_bounded(path, 4096, &text, NULL) < 0)
                return false;
        kc_oom_parse_events(text, &oom, &kill);
        /* Separate counters: an oom without a kill (or the reverse) still counts. */
        if (oom > w->last_oom) {
                w->last_oom = oom;
                hit = true;
        }
        if (kill > w->last_oom_kill) {
                w->last_oom_kill = kill;
                hit = true;
        }
        return hit;
}

static gboolean on_event(int fd, GIOCondition cond, gpointer userdata) {
        KcOomWatch *w = userdata;

        if (w->v2) {
                char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
                while (read(fd, buf, sizeof(buf)) > 0)
                        ;
                if (v2_check(w))
                        w->cb(w->userdata);
                return G_SOURCE_CONTINUE;
        }

        uint64_t count;
        if (read(fd, &count, sizeof(count)) != sizeof(count))
                return G_SOURCE_CONTINUE;
        g_autofree char *ctl = g_build_filename(w->dir, "cgroup.event_control", NULL);
        if (access(ctl, F_OK) < 0) {
                /* The eventfd also fires when the cgroup goes away: that is not an OOM. */
                log_debug("Memory cgroup %s was removed", w->dir);
                w->source = 0;
                return G_SOURCE_REMOVE;
        }
        w->cb(w->userdata);
        return G_SOURCE_CONTINUE;
}

static int watch_v1(KcOomWatch *w) {
        g_autofree char *oc = g_build_filename(w->dir, "memory.oom_control", NULL);
        g_autofree char *ec = g_build_filename(w->dir, "cgroup.event_control", NULL);
        _cleanup_close_ int efd = -EBADF, cfd = -EBADF, ctl = -EBADF;
        char buf[64];
        int len;

        cfd = open(oc, O_RDONLY | O_CLOEXEC);
        if (cfd < 0)
                return -errno;
        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
                return -errno;
        ctl = open(ec, O_WRONLY | O_CLOEXEC);
        if (ctl < 0)
                return -errno;
        len = snprintf(buf, sizeof(buf), "%d %d", efd, cfd);
        if (write(ctl, buf, len) != len)
                return negative_errno();
        w->fd = TAKE_FD(efd);
        w->control_fd = TAKE_FD(cfd);
        return 0;
}

static int watch_v2(KcOomWatch *w) {
        g_autofree char *ev = g_build_filename(w->dir, "memory.events", NULL);
        _cleanup_close_ int fd = -EBADF;

        fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (inotify_add_watch(fd, ev, IN_MODIFY) < 0)
                return -errno;
        w->fd = TAKE_FD(fd);
        /* Start from the current counters: only new events count. */
        v2_check(w);
        return 0;
}

int kc_oom_watch_dir(const char *dir, bool v2, KcOomCallback cb, void *userdata, KcOomWatch **ret) {
        KcOomWatch *w = g_new0(KcOomWatch, 1);
        int r;

        w->v2 = v2;
        w->fd = w->control_fd = -1;
        w->cb = cb;
        w->userdata = userdata;
        w->dir = g_strdup(dir);
        r = v2 ? watch_v2(w) : watch_v1(w);
        if (r < 0) {
                log_debug_errno(r, "Not watching %s for OOM: %m", w->dir);
                kc_oom_watch_free(w);
                return r;
        }
        w->source = g_unix_fd_add(w->fd, G_IO_IN, on_event, w);
        *ret = w;
        return 0;
}

int kc_oom_watch_new(pid_t pid, KcOomCallback cb, void *userdata, KcOomWatch **ret) {
        g_autofree char *proc = g_strdup_printf("/proc/%d/cgroup", (int) pid);
        _cleanup_free_ char *text = NULL;
        g_autofree char *rel = NULL, *dir = NULL;
        struct statfs sfs;
        bool v2;
        int r;

        if (statfs("/sys/fs/cgroup", &sfs) < 0)
                return -errno;
        v2 = sfs.f_type == CGROUP2_SUPER_MAGIC;
        r = read_file_bounded(proc, 64 * 1024, &text, NULL);
        if (r < 0)
                return r;
        rel = kc_oom_cgroup_path(text, v2 ? "" : "memory");
        if (!rel)
                return -ENOENT;
        dir = v2 ? g_build_filename("/sys/fs/cgroup", rel, NULL)
                 : g_build_filename("/sys/fs/cgroup/memory", rel, NULL);
        return kc_oom_watch_dir(dir, v2, cb, userdata, ret);
}

void kc_oom_watch_final_check(KcOomWatch *w) {
        if (w && w->v2 && v2_check(w))
                w->cb(w->userdata);
}

void kc_oom_watch_free(KcOomWatch *w) {
        if (!w)
                return;
        if (w->source)
                g_source_remove(w->source);
        safe_close(w->fd);
        safe_close(w->control_fd);
        g_free(w->dir);
        g_free(w);
}
