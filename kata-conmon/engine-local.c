/* The local engine: runs `<runtime> create|restore|exec` like conmon and pumps its stdio. */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"
#include "engine.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"
#include "oom.h"
#include "reaper.h"
#include "runtime-args.h"

#define OUTPUT_CHUNK 8192
#define STDERR_MESSAGE_MAX 8191

typedef struct LocalEngine {
        KcEngine base;
        KcEngineParams p;
        KcReaper *reaper;
        KcConsole *console;
        guint console_source;
        int stdin_fd, stdout_fd, stderr_fd; /* our ends */
        int child_in, child_out, child_err; /* the runtime's ends, closed after fork */
        guint out_source, err_source, stdin_source, probe_source, repoll_source;
        pid_t runtime_pid, pid;
        bool tty, started, stopped, stdin_closed;
        KcOomWatch *oom;
} LocalEngine;

static LocalEngine *LE(KcEngine *e) {
        return (LocalEngine *) e;
}

static void on_oom(void *userdata) {
        LocalEngine *le = userdata;
        if (!le->stopped)
                le->base.cb->oom(le->base.userdata);
}

/* Returns false at EOF (or a tty's EIO). */
static bool pump_once(LocalEngine *le, int fd, KcStream stream) {
        char buf[OUTPUT_CHUNK];
        ssize_t n;

        do
                n = read(fd, buf, sizeof(buf));
        while (n < 0 && errno == EINTR);
        if (n > 0) {
                le->base.cb->output(le->base.userdata, stream, buf, (size_t) n);
                return true;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return true;
        return false;
}

static gboolean on_output(int fd, GIOCondition cond, gpointer userdata);

static gboolean repoll_terminal(gpointer userdata) {
        LocalEngine *le = userdata;

        le->repoll_source = 0;
        if (!le->stopped && le->stdout_fd >= 0 && !le->out_source)
                le->out_source = g_unix_fd_add(le->stdout_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_output, le);
        return G_SOURCE_REMOVE;
}

static gboolean on_output(int fd, GIOCondition cond, gpointer userdata) {
        LocalEngine *le = userdata;
        bool is_out = fd == le->stdout_fd;
        KcStream stream = fd == le->stderr_fd ? KC_STREAM_STDERR : KC_STREAM_STDOUT;

        if (pump_once(le, fd, stream))
                return G_SOURCE_CONTINUE;
        if (is_out) {
                le->out_source = 0;
                /* A pty master reports HUP (reads fail with EIO) while no slave is open, yet the
                 * container may open its terminal again: look again in a while instead of
                 * spinning or giving up. The exit drain reads what is left either way. */
                if (le->tty && !le->repoll_source)
                        le->repoll_source = g_timeout_add(100, repoll_terminal, le);
        } else
                le->err_source = 0;
        return G_SOURCE_REMOVE;
}

static void drain_fd(LocalEngine *le, int fd, KcStream stream) {
        char buf[OUTPUT_CHUNK];

        if (fd < 0)
                return;
        /* Bounded: output written by surviving grandchildren must not keep us here forever. */
        for (int i = 0; i < 4096; i++) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                le->base.cb->output(le->base.userdata, stream, buf, (size_t) n);
        }
}

static void local_drain(KcEngine *e) {
        LocalEngine *le = LE(e);

        if (le->stopped)
                return;
        drain_fd(le, le->stdout_fd, KC_STREAM_STDOUT);
        drain_fd(le, le->stderr_fd, KC_STREAM_STDERR);
}

static void on_container_exit(pid_t pid, int wait_status, void *userdata) {
        LocalEngine *le = userdata;
        int status = kc_wait_status_decode(wait_status);

        log_debug("Container process %d exited with status %d", (int) pid, status);
        if (le->probe_source) {
                g_source_remove(le->probe_source);
                le->probe_source = 0;
        }
        if (le->stopped)
                return;
        kc_oom_watch_final_check(le->oom);
        le->base.cb->exited(le->base.userdata, status);
}

/* The container process is not our child (the runtime did not leave it to us as subreaper):
 * we cannot wait for it, so poll for its disappearance; its status is unknown (0). */
static gboolean probe_alive(gpointer userdata) {
        LocalEngine *le = userdata;

        if (kill(le->pid, 0) == 0 || errno == EPERM)
                return G_SOURCE_CONTINUE;
        le->probe_source = 0;
        kc_reaper_unwatch(le->reaper, le->pid);
        if (!le->stopped) {
                kc_oom_watch_final_check(le->oom);
                le->base.cb->exited(le->base.userdata, 0);
        }
        return G_SOURCE_REMOVE;
}

static char *read_stderr_message(LocalEngine *le) {
        char buf[STDERR_MESSAGE_MAX + 1];
        ssize_t n;

        if (le->stderr_fd < 0)
                return g_strdup("");
        do
                n = read(le->stderr_fd, buf, STDERR_MESSAGE_MAX);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
                return g_strdup("");
        buf[n] = '\0';
        log_warning("runtime stderr: %s", buf);
        return g_strndup(buf, n);
}

static void fail(LocalEngine *le, const char *message, int runtime_status) {
        le->base.cb->start_failed(le->base.userdata, message, runtime_status);
}

static void take_terminal(LocalEngine *le, int master) {
        struct termios t;

        if (tcgetattr(master, &t) == 0) {
                /* Logs get \r\n like conmon's. */
                t.c_oflag |= ONLCR;
                (void) tcsetattr(master, TCSANOW, &t);
        }
        (void) fd_set_nonblock(master, true);
        le->stdin_fd = master;
        le->stdout_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
        if (le->stdout_fd < 0)
                log_warning_errno(errno, "Failed to duplicate the terminal fd: %m");
}

static gboolean on_console(int fd, GIOCondition cond, gpointer userdata) {
        LocalEngine *le = userdata;
        int master = kc_console_try_receive(le->console);

        if (master == -EAGAIN)
                return G_SOURCE_CONTINUE;
        le->console_source = 0;
        if (master >= 0)
                take_terminal(le, master);
        return G_SOURCE_REMOVE;
}

static void start_output(LocalEngine *le) {
        if (le->stdout_fd >= 0)
                le->out_source = g_unix_fd_add(le->stdout_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_output, le);
        if (le->stderr_fd >= 0)
                le->err_source = g_unix_fd_add(le->stderr_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_output, le);
}

static void on_runtime_exit(pid_t pid, int wait_status, void *userdata) {
        LocalEngine *le = userdata;
        int status = kc_wait_status_decode(wait_status);
        const KcOptions *o = le->p.opts;
        _cleanup_free_ char *text = NULL;
        int r, cpid;

        log_debug("Runtime %d exited with status %d", (int) pid, status);
        le->runtime_pid = 0;
        if (le->stopped)
                return;

        if (le->tty && le->stdin_fd < 0 && le->console) {
                /* The fd may have arrived in the same loop iteration as the exit. */
                int master = kc_console_try_receive(le->console);
                if (master >= 0)
                        take_terminal(le, master);
                if (le->console_source) {
                        g_source_remove(le->console_source);
                        le->console_source = 0;
                }
        }
        g_clear_pointer(&le->console, kc_console_free);

        /* A failing exec runtime is judged by its pidfile instead. */
        if (status != 0 && !o->exec) {
                g_autofree char *msg = read_stderr_message(le);
                log_error("Failed to create container: exit status %d", status);
                fail(le, msg, status);
                return;
        }
        if (le->tty && le->stdin_fd < 0) {
                fail(le, "Runtime did not set up terminal", status);
                return;
        }
        r = read_file_bounded(le->p.pidfile, 64, &text, NULL);
        if (r >= 0)
                r = safe_atoi(g_strstrip(text), &cpid);
        if (r >= 0 && cpid <= 0)
                r = -EINVAL;
        if (r < 0) {
                g_autofree char *msg = read_stderr_message(le);
                if (msg[0] == '\0') {
                        g_free(msg);
                        msg = g_strdup_printf("Failed to read pidfile \u201c%s\u201d: %s", le->p.pidfile,
                                              g_strerror(-r));
                }
                log_error("Failed to get the container pid from %s: %s", le->p.pidfile, g_strerror(-r));
                fail(le, msg, status);
                return;
        }

        le->pid = cpid;
        le->started = true;
        kc_reaper_watch(le->reaper, cpid, on_container_exit, le);
        kc_reaper_stop_caching(le->reaper);
        if (waitid(P_PID, cpid, &(siginfo_t){}, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
                le->probe_source = g_timeout_add(1000, probe_alive, le);
        if (!o->exec && kc_oom_watch_new(cpid, on_oom, le, &le->oom) < 0)
                le->oom = NULL;
        start_output(le);
        le->base.cb->started(le->base.userdata, cpid);
}

static int make_pipe(int *ret_read, int *ret_write) {
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        *ret_read = p[0];
        *ret_write = p[1];
        return 0;
}

static int setup_stdio(LocalEngine *le) {
        const KcOptions *o = le->p.opts;
        int r;

        if (le->p.passthrough)
                return 0;
        if (le->tty) {
                r = kc_console_new(&le->console);
                if (r < 0)
                        return r;
        } else {
                if (o->stdin_) {
                        r = make_pipe(&le->child_in, &le->stdin_fd);
                        if (r < 0)
                                return log_error_errno(r, "Failed to create stdin pipe: %m");
                        (void) fd_set_nonblock(le->stdin_fd, true);
                }
                r = make_pipe(&le->stdout_fd, &le->child_out);
                if (r < 0)
                        return log_error_errno(r, "Failed to create stdout pipe: %m");
                (void) fd_set_nonblock(le->stdout_fd, true);
        }
        /* Always a stderr pipe: it also catches the runtime's own errors. */
        r = make_pipe(&le->stderr_fd, &le->child_err);
        if (r < 0)
                return log_error_errno(r, "Failed to create stderr pipe: %m");
        (void) fd_set_nonblock(le->stderr_fd, true);
        return 0;
}

static _noreturn_ void runtime_child(LocalEngine *le, char **argv, pid_t monitor) {
        int devnull = -1;

        /* The runtime must not outlive a monitor that dies while it creates the container; the
         * getppid() check covers a monitor that died before the prctl took effect. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != monitor)
                _exit(127);
        kc_reaper_child_reset(le->reaper);

        if (!le->p.passthrough) {
                int fds[3] = {le->child_in, le->child_out, le->child_err};
                for (int i = 0; i < 3; i++) {
                        if (fds[i] < 0) {
                                if (devnull < 0)
                                        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                                fds[i] = devnull;
                        } else
                                /* A non-root container user must be able to use its stdio. */
                                (void) fchmod(fds[i], 0777);
                }
                for (int i = 0; i < 3; i++)
                        if (dup2(fds[i], i) < 0)
                                _exit(127);
        }

        const char *lp = getenv("LISTEN_PID");
        if (lp) {
                int v;
                if (le->p.opts->replace_listen_pid || (safe_atoi(lp, &v) >= 0 && v == le->p.caller_pid)) {
                        char buf[32];
                        snprintf(buf, sizeof(buf), "%d", (int) getpid());
                        setenv("LISTEN_PID", buf, 1);
                }
        }
        if (le->p.wait_fd >= 0) {
                /* exec-attach: the caller says when its attach client is ready. */
                char buf[256];
                ssize_t n;
                do
                        n = read(le->p.wait_fd, buf, sizeof(buf));
                while (n < 0 && errno == EINTR);
                if (n < 0)
                        _exit(127);
        }
        if (le->p.oom_score_adj != INT_MIN)
                (void) kc_oom_score_adj_set(le->p.oom_score_adj, NULL);
        execv(argv[0], argv);
        _exit(127);
}

static int local_start(KcEngine *e) {
        LocalEngine *le = LE(e);
        g_auto(GStrv) argv = NULL;
        pid_t pid;
        int r;

        r = setup_stdio(le);
        if (r < 0)
                return r;
        argv = kc_runtime_argv(le->p.opts, le->p.bundle, le->p.pidfile,
                               le->console ? kc_console_path(le->console) : NULL);
        if (kc_log_get_level() >= LOG_DEBUG) {
                g_autofree char *joined = g_strjoinv(" ", argv);
                log_debug("Running %s", joined);
        }
        pid_t self = getpid();
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork the runtime: %m");
        if (pid == 0)
                runtime_child(le, argv, self);

        le->runtime_pid = pid;
        le->child_in = safe_close(le->child_in);
        le->child_out = safe_close(le->child_out);
        le->child_err = safe_close(le->child_err);
        kc_reaper_watch(le->reaper, pid, on_runtime_exit, le);
        if (le->console)
                le->console_source = g_unix_fd_add(kc_console_fd(le->console), G_IO_IN, on_console, le);
        return 0;
}

static gboolean on_stdin_writable(int fd, GIOCondition cond, gpointer userdata) {
        LocalEngine *le = userdata;

        le->stdin_source = 0;
        le->base.cb->stdin_ready(le->base.userdata);
        return G_SOURCE_REMOVE;
}

static ssize_t local_write_stdin(KcEngine *e, const void *buf, size_t len) {
        LocalEngine *le = LE(e);
        ssize_t n;

        if (le->stdin_fd < 0 || le->stdin_closed)
                return -EPIPE;
        do
                n = write(le->stdin_fd, buf, len);
        while (n < 0 && errno == EINTR);
        if (n >= 0)
                return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!le->stdin_source)
                        le->stdin_source =
                                g_unix_fd_add(le->stdin_fd, G_IO_OUT | G_IO_ERR, on_stdin_writable, le);
                return -EAGAIN;
        }
        return -errno;
}

static void local_close_stdin(KcEngine *e) {
        LocalEngine *le = LE(e);

        if (le->stdin_closed)
                return;
        le->stdin_closed = true;
        if (le->stdin_source) {
                g_source_remove(le->stdin_source);
                le->stdin_source = 0;
        }
        /* With a terminal, stdin and stdout are the same pty: only stop feeding it. */
        if (!le->tty)
                le->stdin_fd = safe_close(le->stdin_fd);
}

static int local_resize(KcEngine *e, unsigned rows, unsigned cols) {
        LocalEngine *le = LE(e);
        struct winsize ws = {.ws_row = (unsigned short) rows, .ws_col = (unsigned short) cols};

        if (!le->tty || le->stdin_fd < 0)
                return -ENOTTY;
        if (ioctl(le->stdin_fd, TIOCSWINSZ, &ws) < 0)
                return log_warning_errno(errno, "Failed to resize the terminal: %m");
        return 0;
}

static int local_kill(KcEngine *e, int sig, bool group) {
        LocalEngine *le = LE(e);
        pid_t target = le->started ? le->pid : le->runtime_pid;

        if (target <= 0)
                return -ESRCH;
        if (group) {
                pid_t pgid = getpgid(target);
                /* Never our own group: that would kill the monitor along with the process. */
                if (pgid > 1 && pgid != getpgrp())
                        target = -pgid;
        }
        if (kill(target, sig) < 0)
                return -errno;
        return 0;
}

static void local_stop(KcEngine *e) {
        LocalEngine *le = LE(e);
        guint *sources[] = {&le->out_source,     &le->err_source,   &le->stdin_source,
                            &le->console_source, &le->probe_source, &le->repoll_source};

        le->stopped = true;
        for (size_t i = 0; i < ELEMENTSOF(sources); i++)
                if (*sources[i]) {
                        g_source_remove(*sources[i]);
                        *sources[i] = 0;
                }
        g_clear_pointer(&le->oom, kc_oom_watch_free);
}

static void local_free(KcEngine *e) {
        LocalEngine *le = LE(e);

        if (!le)
                return;
        local_stop(e);
        if (le->runtime_pid > 0)
                kc_reaper_unwatch(le->reaper, le->runtime_pid);
        if (le->pid > 0)
                kc_reaper_unwatch(le->reaper, le->pid);
        kc_console_free(le->console);
        safe_close(le->stdin_fd);
        safe_close(le->stdout_fd);
        safe_close(le->stderr_fd);
        safe_close(le->child_in);
        safe_close(le->child_out);
        safe_close(le->child_err);
        g_free(le);
}

static const KcEngineOps local_ops = {
        .name = "local",
        .start = local_start,
        .write_stdin = local_write_stdin,
        .close_stdin = local_close_stdin,
        .resize = local_resize,
        .kill = local_kill,
        .drain = local_drain,
        .stop = local_stop,
        .free = local_free,
};

int kc_engine_local_new(const KcEngineParams *params, KcReaper *reaper, const KcEngineCallbacks *cb,
                        void *userdata, KcEngine **ret) {
        LocalEngine *le = g_new0(LocalEngine, 1);

        le->base = (KcEngine){&local_ops, cb, userdata};
        le->p = *params;
        le->reaper = reaper;
        le->tty = params->opts->terminal && !params->passthrough;
        le->stdin_fd = le->stdout_fd = le->stderr_fd = -1;
        le->child_in = le->child_out = le->child_err = -1;
        *ret = &le->base;
        return 0;
}
