/* Child reaping and signal delivery through one signalfd in the main loop. */
#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "reaper.h"

typedef struct Watch {
        KcChildCallback cb;
        void *userdata;
} Watch;

struct KcReaper {
        int sfd;
        guint source;
        sigset_t old_mask;
        GHashTable *watches; /* pid -> Watch */
        GHashTable *cached;  /* pid -> wait status of children nobody watched yet */
        bool caching;
        KcSignalCallback on_signal;
        void *userdata;
};

/* Bound for statuses kept for pids nobody watches yet (orphans we reap as subreaper). */
#define MAX_CACHED 1024

int kc_wait_status_decode(int wait_status) {
        if (WIFEXITED(wait_status))
                return WEXITSTATUS(wait_status);
        if (WIFSIGNALED(wait_status))
                return 128 + WTERMSIG(wait_status);
        return -1;
}

static void dispatch(KcReaper *r, pid_t pid, int status) {
        Watch *w = g_hash_table_lookup(r->watches, GINT_TO_POINTER(pid));

        if (!w) {
                log_debug("Reaped unwatched child %d (status %d)", (int) pid, status);
                if (r->caching && g_hash_table_size(r->cached) < MAX_CACHED)
                        g_hash_table_insert(r->cached, GINT_TO_POINTER(pid), GINT_TO_POINTER(status));
                return;
        }
        Watch copy = *w;
        g_hash_table_remove(r->watches, GINT_TO_POINTER(pid));
        copy.cb(pid, status, copy.userdata);
}

void kc_reaper_poll(KcReaper *r) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);

                if (pid <= 0)
                        break;
                dispatch(r, pid, status);
        }
}

static gboolean on_signalfd(int fd, GIOCondition cond, gpointer userdata) {
        KcReaper *r = userdata;
        struct signalfd_siginfo si;
        bool child = false;

        for (;;) {
                ssize_t n = read(fd, &si, sizeof(si));
                if (n != sizeof(si))
                        break;
                if (si.ssi_signo == SIGCHLD)
                        child = true;
                else if (si.ssi_signo != SIGUSR1 && r->on_signal)
                        r->on_signal((int) si.ssi_signo, r->userdata);
        }
        if (child)
                kc_reaper_poll(r);
        return G_SOURCE_CONTINUE;
}

int kc_reaper_new(KcSignalCallback on_signal, void *userdata, KcReaper **ret) {
        KcReaper *r = g_new0(KcReaper, 1);
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGQUIT);
        sigaddset(&set, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &set, &r->old_mask) < 0) {
                g_free(r);
                return log_error_errno(errno, "Failed to block signals: %m");
        }
        r->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (r->sfd < 0) {
                int e = errno;
                sigprocmask(SIG_SETMASK, &r->old_mask, NULL);
                g_free(r);
                return log_error_errno(e, "Failed to create signalfd: %m");
        }
        r->watches = g_hash_table_new_full(NULL, NULL, NULL, g_free);
        r->cached = g_hash_table_new(NULL, NULL);
        r->caching = true;
        r->on_signal = on_signal;
        r->userdata = userdata;
        r->source = g_unix_fd_add(r->sfd, G_IO_IN, on_signalfd, r);
        *ret = r;
        return 0;
}

typedef struct Deferred {
        KcReaper *reaper;
        pid_t pid;
        int status;
} Deferred;

static gboolean deferred_dispatch(gpointer userdata) {
        Deferred *d = userdata;

        dispatch(d->reaper, d->pid, d->status);
        g_free(d);
        return G_SOURCE_REMOVE;
}

void kc_reaper_watch(KcReaper *r, pid_t pid, KcChildCallback cb, void *userdata) {
        Watch *w = g_new(Watch, 1);
        gpointer status;

        *w = (Watch){cb, userdata};
        g_hash_table_replace(r->watches, GINT_TO_POINTER(pid), w);
        if (g_hash_table_lookup_extended(r->cached, GINT_TO_POINTER(pid), NULL, &status)) {
                /* Reaped before anyone asked: report from the loop, not from inside the caller. */
                Deferred *d = g_new(Deferred, 1);
                *d = (Deferred){r, pid, GPOINTER_TO_INT(status)};
                g_hash_table_remove(r->cached, GINT_TO_POINTER(pid));
                g_idle_add(deferred_dispatch, d);
        }
}

void kc_reaper_stop_caching(KcReaper *r) {
        r->caching = false;
        g_hash_table_remove_all(r->cached);
}

void kc_reaper_unwatch(KcReaper *r, pid_t pid) {
        g_hash_table_remove(r->watches, GINT_TO_POINTER(pid));
}

void kc_reaper_child_reset(const KcReaper *r) {
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_SETMASK, &r->old_mask, NULL);
}

void kc_reaper_free(KcReaper *r) {
        if (!r)
                return;
        if (r->source)
                g_source_remove(r->source);
        safe_close(r->sfd);
        g_hash_table_destroy(r->watches);
        g_hash_table_destroy(r->cached);
        sigprocmask(SIG_SETMASK, &r->old_mask, NULL);
        g_free(r);
}
