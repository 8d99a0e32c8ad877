/* kata-agent: running the OCI runtime (crun in the guest, runc/crun on the host in host mode). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
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

/* Runs "<runtime> --root <dir> [runtime args] <args...>" synchronously. stdio entries < 0 get
 * /dev/null (stdin) or an error-capture file (stdout, stderr). Returns 0, or -EIO when the runtime
 * failed, with its error output in *ret_error. */
int runtime_run(Agent *a, const char *const *args, const int stdio[3], char **ret_error) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        _cleanup_close_ int capture = -EBADF, null_fd = -EBADF;
        int64_t deadline;
        int status;
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
                (void) signal(SIGPIPE, SIG_DFL);
                if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
                        _exit(127);
                /* Errors we can report go to the capture file even when stderr is the container's. */
                if (capture != 3 && dup2(capture, 3) < 0)
                        _exit(127);
                execv(a->runtime, (char **) argv->pdata);
                _exit(127);
        }

        deadline = g_get_monotonic_time() + RUNTIME_TIMEOUT_US;
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
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (ret_error) {
                g_autofree char *err = read_error(capture);
                *ret_error = g_strdup_printf("%s %s failed (%s %d)%s%s", a->runtime, args[0],
                                             WIFEXITED(status) ? "exit" : "signal",
                                             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                                             err ? ": " : "", err ?: "");
        }
        return -EIO;
}
