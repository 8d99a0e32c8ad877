/* kata-agent: running the OCI runtime (crun in the guest, runc/crun on the host in host mode). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "fd-util.h"
#include "log.h"
#include "macro.h"

#define RUNTIME_TIMEOUT_US (120 * G_USEC_PER_SEC)
#define ERROR_MAX 2048

static char *read_error(int fd) {
        char buf[ERROR_MAX + 1];
        ssize_t n;

        if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0)
                return NULL;
        n = read(fd, buf, ERROR_MAX);
        if (n <= 0)
                return NULL;
        buf[n] = '\0';
        g_strstrip(buf);
        if (!g_utf8_validate(buf, -1, NULL))
                return g_strdup("(runtime error output is not UTF-8)");
        return g_strdup(buf);
}

/* Forks "<runtime> --root <dir> [runtime args] <args...>". stdio entries < 0 get /dev/null (stdin)
 * or the error-capture memfd (stdout, stderr), returned in *ret_capture. */
static pid_t runtime_fork(Agent *a, const char *const *args, const int stdio[3], int *ret_capture) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        _cleanup_close_ int capture = -EBADF, null_fd = -EBADF;
        pid_t pid;

        g_ptr_array_add(argv, (char *) a->runtime);
        if (a->runtime_root) {
                g_ptr_array_add(argv, (char *) "--root");
                g_ptr_array_add(argv, (char *) a->runtime_root);
        }
        if (stdio && stdio[2] >= 0) {
                /* stderr is the container's: have the runtime log its errors to fd 3 as well. */
                g_ptr_array_add(argv, (char *) "--log");
                g_ptr_array_add(argv, (char *) "/proc/self/fd/3");
        }
        for (char **x = a->runtime_args; x && *x; x++)
                g_ptr_array_add(argv, *x);
        for (const char *const *x = args; *x; x++)
                g_ptr_array_add(argv, (char *) *x);
        g_ptr_array_add(argv, NULL);

        capture = memfd_create("runtime-stderr", MFD_CLOEXEC);
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (capture < 0 || null_fd < 0)
                return log_error_errno(errno, "Cannot prepare the runtime's stdio: %m");

        if (kc_log_get_level() >= LOG_DEBUG) {
                g_autofree char *cmd = g_strjoinv(" ", (char **) argv->pdata);
                log_debug("Running %s", cmd);
        }
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork: %m");
        if (pid == 0) {
                sigset_t all;
                int in = stdio && stdio[0] >= 0 ? stdio[0] : null_fd;
                int out = stdio && stdio[1] >= 0 ? stdio[1] : capture;
                int err = stdio && stdio[2] >= 0 ? stdio[2] : capture;

                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                /* Its own process group: a cancelled or hung runtime is killed with all it started. */
                (void) setpgid(0, 0);
                (void) signal(SIGPIPE, SIG_DFL);
                if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
                        _exit(127);
                /* Errors we can report go to the capture file even when stderr is the container's. */
                if (capture != 3 && dup2(capture, 3) < 0)
                        _exit(127);
                /* QEMU's TCG (7.x on x86) finds translated code by virtual address too: with the
                 * runtime and its libraries at new random addresses each call, every call translates
                 * them again (crun --version: 128 ms randomised, 60 ms not, in a TCG guest). So under
                 * TCG the runtime itself runs unrandomised; the processes it starts do not inherit it:
                 * create and exec both apply the spec's linux.personality, which the agent sets
                 * (spec_set_default_personality()). The guest test reads /proc/self/personality of
                 * a container and of an exec'd process. */
                if (a->runtime_no_aslr)
                        (void) personality(ADDR_NO_RANDOMIZE);
                execv(a->runtime, (char **) argv->pdata);
                _exit(127);
        }
        *ret_capture = TAKE_FD(capture);
        return pid;
}

/* 0 for a clean exit, else -EIO with the runtime's own words in *ret_error. */
static int runtime_result(Agent *a, const char *verb, int64_t started, int status, int capture,
                          char **ret_error) {
        log_debug("%s %s took %.1f ms (uptime %.3f s)", a->runtime, verb,
                  (double) (g_get_monotonic_time() - started) / 1000.0, init_uptime());
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (ret_error) {
                g_autofree char *err = read_error(capture);
                *ret_error = g_strdup_printf("%s %s failed (%s %d)%s%s", a->runtime, verb,
                                             WIFEXITED(status) ? "exit" : "signal",
                                             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                                             err ? ": " : "", err ?: "");
        }
        return -EIO;
}

int runtime_run(Agent *a, const char *const *args, const int stdio[3], char **ret_error) {
        _cleanup_close_ int capture = -EBADF;
        int64_t started = g_get_monotonic_time(), deadline = started + RUNTIME_TIMEOUT_US;
        int status;
        pid_t pid;

        pid = runtime_fork(a, args, stdio, &capture);
        if (pid < 0)
                return pid;
        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        break;
                if (r < 0 && errno != EINTR)
                        return log_error_errno(errno, "waitpid(%s): %m", a->runtime);
                if (g_get_monotonic_time() > deadline) {
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, &status, 0);
                        if (ret_error)
                                *ret_error = g_strdup_printf("%s %s timed out", a->runtime, args[0]);
                        return -ETIMEDOUT;
                }
                g_usleep(2000);
        }
        return runtime_result(a, args[0], started, status, capture, ret_error);
}

struct RuntimeOp {
        Agent *agent;
        pid_t pid;
        int capture;
        int64_t started;
        char *verb;
        guint timeout;
        RuntimeDone done;
        void *userdata;
};

static void runtime_op_free(RuntimeOp *op) {
        if (op->timeout)
                g_source_remove(op->timeout);
        safe_close(op->capture);
        g_free(op->verb);
        g_free(op);
}

static gboolean on_runtime_timeout(gpointer userdata) {
        RuntimeOp *op = userdata;

        op->timeout = 0;
        log_error("%s %s (pid %d) timed out, killing it", op->agent->runtime, op->verb, (int) op->pid);
        (void) kill(-op->pid, SIGKILL);
        (void) kill(op->pid, SIGKILL); /* the reaper completes the operation */
        return G_SOURCE_REMOVE;
}

RuntimeOp *runtime_spawn(Agent *a, const char *const *args, const int stdio[3], RuntimeDone done,
                         void *userdata, int *ret_error) {
        RuntimeOp *op;
        int capture = -EBADF;
        pid_t pid;

        pid = runtime_fork(a, args, stdio, &capture);
        if (pid < 0) {
                *ret_error = pid;
                return NULL;
        }
        op = g_new0(RuntimeOp, 1);
        op->agent = a;
        op->pid = pid;
        op->capture = capture;
        op->started = g_get_monotonic_time();
        op->verb = g_strdup(args[0]);
        op->done = done;
        op->userdata = userdata;
        op->timeout = g_timeout_add_seconds(RUNTIME_TIMEOUT_US / G_USEC_PER_SEC, on_runtime_timeout, op);
        g_hash_table_insert(a->runtime_ops, GINT_TO_POINTER(pid), op);
        return op;
}

bool runtime_op_reaped(Agent *a, pid_t pid, int status) {
        RuntimeOp *op = g_hash_table_lookup(a->runtime_ops, GINT_TO_POINTER(pid));
        g_autofree char *err = NULL;
        int r;

        if (!op)
                return false;
        g_hash_table_remove(a->runtime_ops, GINT_TO_POINTER(pid));
        r = runtime_result(a, op->verb, op->started, status, op->capture, &err);
        op->done(a, r, err, op->userdata);
        runtime_op_free(op);
        return true;
}

void runtime_op_cancel(RuntimeOp *op) {
        int status;

        g_hash_table_remove(op->agent->runtime_ops, GINT_TO_POINTER(op->pid));
        (void) kill(-op->pid, SIGKILL);
        (void) kill(op->pid, SIGKILL);
        (void) waitpid(op->pid, &status, 0);
        runtime_op_free(op);
}
