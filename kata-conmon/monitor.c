/* The shared core: one container (or exec session) from engine start to exit files. */
#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "ctl.h"
#include "engine.h"
#include "exit-files.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"
#include "monitor.h"
#include "reaper.h"
#include "sdnotify.h"
#include "sync-pipe.h"

#define TIMEOUT_MESSAGE "command timed out"

struct KcMonitor {
        KcMonitorParams p;
        const KcOptions *o;
        GMainLoop *loop;
        KcReaper *reaper;
        KcEngine *engine;
        KcAttach *attach;
        KcCtl *ctl;
        KcSdNotify *notify;
        char *symlink;
        int sync_fd, attach_pipe_fd;
        pid_t pid;
        bool runtime_started, finished;
        guint timer;
        int exit_code;
};

static const char *sync_key(KcMonitor *m) {
        return kc_sync_key(m->o->api_version, m->o->exec);
}

static void quit(KcMonitor *m, int exit_code) {
        m->finished = true;
        m->exit_code = exit_code;
        if (m->timer) {
                g_source_remove(m->timer);
                m->timer = 0;
        }
        g_main_loop_quit(m->loop);
}

/* A failure after daemonizing: the caller only ever learns about it through the pipe. */
static void report_failure(KcMonitor *m, const char *message) {
        kc_sync_send(&m->sync_fd, sync_key(m), -1, message);
        quit(m, 1);
}

static void close_inherited_fds(KcMonitor *m) {
        /* Podman leaks port reservations into us; free them before announcing the exit. */
        for (size_t i = 0; i < m->p.n_inherited_fds; i++)
                close(m->p.inherited_fds[i]);
        m->p.n_inherited_fds = 0;
}

static void finish(KcMonitor *m, int status, bool timed_out) {
        const KcOptions *o = m->o;

        if (m->finished)
                return;
        if (!timed_out)
                m->engine->ops->drain(m->engine);
        m->engine->ops->stop(m->engine);
        kc_log_flush(m->p.logs);
        close_inherited_fds(m);
        kc_attach_close(m->attach);
        (void) kc_exit_files_write(o->persist_dir, o->exit_dir, o->cid, status);
        if (o->exec)
                kc_sync_send(&m->sync_fd, sync_key(m), status, timed_out ? TIMEOUT_MESSAGE : NULL);
        log_debug("Exiting with container status %d", status);
        quit(m, status & 0xff);
}

static gboolean on_timeout(gpointer userdata) {
        KcMonitor *m = userdata;
        int r;

        m->timer = 0;
        log_info("Timeout of %d s reached, killing the process group", m->o->timeout);
        r = m->engine->ops->kill(m->engine, SIGKILL, true);
        if (r < 0)
                log_warning_errno(r, "Failed to kill the container: %m");
        finish(m, -1, true);
        return G_SOURCE_REMOVE;
}

static void on_started(void *userdata, pid_t pid) {
        KcMonitor *m = userdata;

        m->pid = pid;
        log_debug("Container pid %d", (int) pid);
        /* A legacy exec session reports nothing until it exited. */
        if (!m->o->exec || m->o->api_version)
                kc_sync_send(&m->sync_fd, sync_key(m), pid, NULL);
        /* Millisecond timer: a probe must not be killed before its time (second timers may
         * fire up to a second early or late). Huge values fall back to a seconds timer. */
        if (m->o->timeout > 0 && m->o->timeout <= 3600 * 24 * 7)
                m->timer = g_timeout_add((guint) m->o->timeout * 1000u, on_timeout, m);
        else if (m->o->timeout > 0)
                m->timer = g_timeout_add_seconds((guint) m->o->timeout, on_timeout, m);
}

static void on_start_failed(void *userdata, const char *message, int runtime_status) {
        KcMonitor *m = userdata;

        m->engine->ops->stop(m->engine);
        report_failure(m, message);
}

static void on_output(void *userdata, KcStream stream, const char *buf, size_t len) {
        KcMonitor *m = userdata;

        kc_log_write(m->p.logs, stream, buf, len);
        kc_attach_broadcast(m->attach, stream, buf, len);
}

static void on_exited(void *userdata, int status) {
        finish(userdata, status, false);
}

static void on_stdin_ready(void *userdata) {
        KcMonitor *m = userdata;
        kc_attach_resume_input(m->attach);
}

static void on_oom(void *userdata) {
        KcMonitor *m = userdata;

        log_info("OOM event for container %s", m->o->cid);
        (void) kc_oom_files_write(m->p.bundle, m->o->persist_dir);
}

static const KcEngineCallbacks engine_callbacks = {
        .started = on_started,
        .start_failed = on_start_failed,
        .output = on_output,
        .exited = on_exited,
        .stdin_ready = on_stdin_ready,
        .oom = on_oom,
};

static ssize_t on_attach_input(void *userdata, const char *buf, size_t len) {
        KcMonitor *m = userdata;

        if (!m->o->stdin_ && !m->o->terminal)
                return (ssize_t) len; /* no stdin: discard */
        return m->engine->ops->write_stdin(m->engine, buf, len);
}

static void on_attach_eof(void *userdata) {
        KcMonitor *m = userdata;

        if (m->o->stdin_ && !m->o->leave_stdin_open)
                m->engine->ops->close_stdin(m->engine);
}

static const KcAttachCallbacks attach_callbacks = {
        .input = on_attach_input,
        .input_eof = on_attach_eof,
};

static void on_resize(void *userdata, int rows, int cols) {
        KcMonitor *m = userdata;
        (void) m->engine->ops->resize(m->engine, (unsigned) rows, (unsigned) cols);
}

static void on_reopen(void *userdata) {
        KcMonitor *m = userdata;
        int r = kc_log_reopen(m->p.logs);
        if (r < 0)
                log_warning_errno(r, "Failed to reopen the log file, still writing to the old one: %m");
}

static const KcCtlCallbacks ctl_callbacks = {
        .resize = on_resize,
        .reopen = on_reopen,
};

static void on_signal(int sig, void *userdata) {
        KcMonitor *m = userdata;
        int r;

        if (!m->engine)
                return;
        log_debug("Forwarding signal %d", sig);
        r = m->engine->ops->kill(m->engine, sig, false);
        if (r < 0)
                log_debug_errno(r, "Failed to forward signal %d: %m", sig);
        kc_reaper_poll(m->reaper);
}

static int setup_attach(KcMonitor *m) {
        const KcOptions *o = m->o;
        const char *dir = m->p.bundle;
        int r;

        if (!o->full_attach && o->cuuid) {
                const char *sockdir = o->socket_dir_path ? o->socket_dir_path : KC_DEFAULT_SOCKET_DIR;

                r = mkdir_p(sockdir, 0755);
                if (r < 0)
                        return log_error_errno(r, "Failed to create %s: %m", sockdir);
                m->symlink = g_build_filename(sockdir, o->cuuid, NULL);
                (void) unlink(m->symlink);
                /* The short symlink keeps the socket path within sun_path's 108 bytes. */
                if (symlink(m->p.bundle, m->symlink) < 0) {
                        r = log_error_errno(errno, "Failed to create symlink %s: %m", m->symlink);
                        g_clear_pointer(&m->symlink, g_free);
                        return r;
                }
                dir = m->symlink;
        }
        r = kc_attach_new(dir, &attach_callbacks, m, &m->attach);
        if (r < 0)
                return r;
        return kc_ctl_new(m->p.bundle, &ctl_callbacks, m, &m->ctl);
}

int kc_monitor_new(const KcMonitorParams *p, KcMonitor **ret) {
        KcMonitor *m = g_new0(KcMonitor, 1);

        m->p = *p;
        m->o = p->opts;
        m->sync_fd = p->sync_fd;
        m->attach_pipe_fd = p->attach_pipe_fd;
        m->loop = g_main_loop_new(NULL, FALSE);
        *ret = m;
        return 0;
}

int kc_monitor_run(KcMonitor *m) {
        KcEngineParams ep = {
                .opts = m->o,
                .bundle = m->p.bundle,
                .pidfile = m->p.pidfile,
                .passthrough = m->p.passthrough,
                .wait_fd = m->o->exec_attach ? m->p.start_fd : -1,
                .caller_pid = m->p.caller_pid,
                .oom_score_adj = m->p.oom_score_adj,
        };
        g_autofree char *failure = NULL;
        int r;

        r = kc_reaper_new(on_signal, m, &m->reaper);
        if (r < 0) {
                report_failure(m, "Failed to set up signal handling");
                return m->exit_code;
        }
        if (m->o->sdnotify_socket && m->p.bundle &&
            kc_sdnotify_new(m->p.bundle, m->o->sdnotify_socket, &m->notify) < 0)
                log_warning("Not relaying sd_notify messages");
        if (m->p.bundle && !m->p.passthrough) {
                r = setup_attach(m);
                if (r < 0) {
                        failure = g_strdup_printf("Failed to set up the attach socket in %s: %s",
                                                  m->p.bundle, g_strerror(-r));
                        report_failure(m, failure);
                        return m->exit_code;
                }
        }
        if (m->o->exec_attach) {
                kc_sync_send(&m->attach_pipe_fd, "data", 0, NULL);
                m->attach_pipe_fd = safe_close(m->attach_pipe_fd);
        }

        r = (m->p.engine_new ?: kc_engine_local_new)(&ep, m->reaper, &engine_callbacks, m, &m->engine);
        if (r >= 0)
                r = m->engine->ops->start(m->engine);
        if (r < 0) {
                failure = g_strdup_printf("Failed to start the runtime: %s", g_strerror(-r));
                report_failure(m, failure);
                return m->exit_code;
        }
        m->runtime_started = true;
        if (m->p.passthrough)
                (void) redirect_stdio_to_null();

        if (!m->finished)
                g_main_loop_run(m->loop);
        return m->exit_code;
}

bool kc_monitor_runtime_started(const KcMonitor *m) {
        return m->runtime_started;
}

void kc_monitor_free(KcMonitor *m) {
        if (!m)
                return;
        if (m->engine)
                m->engine->ops->free(m->engine);
        kc_attach_free(m->attach);
        kc_ctl_free(m->ctl);
        kc_sdnotify_free(m->notify);
        if (m->symlink) {
                (void) unlink(m->symlink);
                g_free(m->symlink);
        }
        if (m->timer)
                g_source_remove(m->timer);
        kc_reaper_free(m->reaper);
        safe_close(m->sync_fd);
        safe_close(m->attach_pipe_fd);
        g_main_loop_unref(m->loop);
        g_free(m);
}
