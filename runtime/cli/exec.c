/* `kata-runtime exec`: runs a process in a container's guest and relays its stdio (attached), or
 * leaves a relaying child whose pid goes to --pid-file (--detach). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "exec-relay.h"
#include "fd-util.h"
#include "fileio.h"
#include "kata-runtime.h"
#include "log.h"
#include "mux.h"

#define PROCESS_MAX (1024 * 1024)

typedef struct ExecArgs {
        const char *process_path;
        const char *pid_file;
        const char *console_socket;
        const char *cwd;
        GPtrArray *env;
        bool detach;
        bool tty;
} ExecArgs;

static int load_process(const ExecArgs *a, const KrState *s, char **cmd, JsonObject **ret) {
        g_autofree char *text = NULL, *config = NULL;
        g_autoptr(JsonObject) root = NULL;
        JsonObject *proc = NULL;
        JsonArray *args = NULL;
        size_t len;
        int r;

        if (a->process_path) {
                r = read_file_bounded(a->process_path, PROCESS_MAX, &text, &len);
                if (r < 0)
                        return log_error_errno(r, "Failed to read process spec %s: %m", a->process_path);
                if (kc_json_parse_object(text, len, ret) < 0)
                        return log_error_errno(EINVAL, "process spec %s is not a JSON object",
                                               a->process_path);
        } else {
                /* Arguments after the id: the container's own process with those args. */
                if (!s->bundle)
                        return log_error_errno(EINVAL, "container %s has no bundle: use --process", s->id);
                config = g_build_filename(s->bundle, "config.json", NULL);
                r = read_file_bounded(config, 16 * 1024 * 1024, &text, &len);
                if (r < 0)
                        return log_error_errno(r, "Failed to read %s: %m", config);
                if (kc_json_parse_object(text, len, &root) < 0 ||
                    kc_json_get_object(root, "process", true, &proc) < 0)
                        return log_error_errno(EINVAL, "%s has no process object", config);
                args = json_array_new();
                for (char **c = cmd; *c; c++)
                        json_array_add_string_element(args, *c);
                *ret = json_object_ref(proc);
                json_object_set_array_member(*ret, "args", args);
        }

        if (kc_json_get_array((*ret), "args", 4096, true, &args) < 0 || json_array_get_length(args) == 0) {
                g_clear_pointer(ret, json_object_unref);
                return log_error_errno(EINVAL, "process spec: \"args\" must be a non-empty array");
        }
        if (a->cwd)
                json_object_set_string_member(*ret, "cwd", a->cwd);
        if (a->env && a->env->len > 0) {
                JsonArray *env = NULL;
                if (kc_json_get_array(*ret, "env", 65536, false, &env) < 0 || !env) {
                        env = json_array_new();
                        json_object_set_array_member(*ret, "env", env);
                }
                for (guint i = 0; i < a->env->len; i++)
                        json_array_add_string_element(env, a->env->pdata[i]);
        }
        return 0;
}

/* --console-socket: a pty whose master goes to the socket; we relay on the slave. */
static int console_open(const char *path, int *ret_slave) {
        _cleanup_close_ int master = -EBADF, slave = -EBADF, sock = -EBADF;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        char name[] = "/dev/pts/ptmx", cbuf[CMSG_SPACE(sizeof(int))] = {};
        struct iovec iov = {.iov_base = name, .iov_len = sizeof name};
        struct msghdr msg = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
        struct cmsghdr *cm;
        struct termios t;

        if (strlen(path) >= sizeof sa.sun_path)
                return log_error_errno(ENAMETOOLONG, "console socket path too long: %s", path);
        strcpy(sa.sun_path, path);
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
                return log_error_errno(errno, "Failed to allocate a pty: %m");
        slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return log_error_errno(errno, "Failed to open the pty slave: %m");
        /* The guest's terminal does the line discipline: ours must pass bytes through. */
        if (tcgetattr(slave, &t) == 0) {
                cfmakeraw(&t);
                (void) tcsetattr(slave, TCSANOW, &t);
        }
        sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (sock < 0 || connect(sock, (struct sockaddr *) &sa, sizeof sa) < 0)
                return log_error_errno(errno, "Failed to connect to console socket %s: %m", path);
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &master, sizeof(int));
        if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
                return log_error_errno(errno, "Failed to send the pty to %s: %m", path);
        *ret_slave = TAKE_FD(slave);
        return 0;
}

static int write_pid_file(const char *path, pid_t pid) {
        g_autofree char *text = g_strdup_printf("%d", (int) pid);
        int r = write_file_atomic(path, text, strlen(text), 0644, false);
        if (r < 0)
                return log_error_errno(r, "Failed to write pid file %s: %m", path);
        return 0;
}

/* Puts a terminal on stdin into raw mode for the attached tty case; restores it at exit. */
static struct termios saved_termios;
static bool termios_saved;
static void restore_termios(void) {
        if (termios_saved)
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
}

static int run_detached(const char *sdir, KrExecParams *p, const char *pid_file) {
        int pipefd[2];
        char buf[512];
        ssize_t n;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return log_error_errno(errno, "Failed to create a pipe: %m");
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork: %m");
        if (pid == 0) {
                int r;
                (void) close(pipefd[0]);
                (void) setsid();
                p->ready_fd = pipefd[1];
                r = kr_exec_run(sdir, p);
                _exit(r < 0 ? 255 : r);
        }
        (void) close(pipefd[1]);
        n = read_full(pipefd[0], buf, sizeof buf - 1);
        (void) close(pipefd[0]);
        buf[n > 0 ? n : 0] = 0;
        if (n <= 0 || strcmp(buf, "ok\n") != 0) {
                int status = 0;

                (void) waitpid(pid, &status, 0);
                /* The relay already logged why; 126/127: the program could not be started. */
                if (WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127))
                        return WEXITSTATUS(status);
                return log_error_errno(EIO, "%s", n > 0 ? g_strchomp(buf) : "exec failed");
        }
        return pid_file ? write_pid_file(pid_file, pid) : 0;
}

int kr_cmd_exec(KrContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"process", required_argument, NULL, 'p'},
                {"pid-file", required_argument, NULL, 'P'},
                {"console-socket", required_argument, NULL, 'c'},
                {"detach", no_argument, NULL, 'd'},
                {"tty", no_argument, NULL, 't'},
                {"cwd", required_argument, NULL, 'w'},
                {"env", required_argument, NULL, 'e'},
                /* Applied in the guest from the process spec or meaningless there: accepted. */
                {"user", required_argument, NULL, 'u'},
                {"process-label", required_argument, NULL, 'L'},
                {"apparmor", required_argument, NULL, 'A'},
                {"no-new-privs", no_argument, NULL, 'N'},
                {"preserve-fds", required_argument, NULL, 'F'},
                {"cap", required_argument, NULL, 'C'},
                {"cgroup", required_argument, NULL, 'G'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        g_autoptr(GPtrArray) env = g_ptr_array_new();
        ExecArgs a = {.env = env};
        _cleanup_close_ int lock_fd = -EBADF, console_slave = -EBADF;
        g_autoptr(KrState) s = NULL;
        g_autoptr(JsonObject) process = NULL;
        g_autofree char *sdir = NULL;
        KrExecParams p = {.in_fd = -1,
                          .out_fd = STDOUT_FILENO,
                          .err_fd = STDERR_FILENO,
                          .winsize_fd = -1,
                          .ready_fd = -1};
        const char *reason;
        bool terminal = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "+p:dtu:e:w:h", options, NULL)) >= 0)
                switch (c) {
                case 'p':
                        a.process_path = optarg;
                        break;
                case 'P':
                        a.pid_file = optarg;
                        break;
                case 'c':
                        a.console_socket = optarg;
                        break;
                case 'd':
                        a.detach = true;
                        break;
                case 't':
                        a.tty = true;
                        break;
                case 'w':
                        a.cwd = optarg;
                        break;
                case 'e':
                        g_ptr_array_add(env, optarg);
                        break;
                case 'u':
                case 'L':
                case 'A':
                case 'N':
                case 'F':
                case 'C':
                case 'G':
                        break;
                case 'h':
                        printf("Usage: kata-runtime exec [--process FILE] [--tty] [--detach] [--pid-file "
                               "FILE]\n"
                               "       [--console-socket SOCK] <container-id> [command args...]\n");
                        return 0;
                default:
                        return log_error_errno(EINVAL, "exec: unknown option");
                }
        r = kr_need_args(argc, argv, optind, a.process_path ? 1 : 2, a.process_path ? 1 : -1,
                         "exec [options] <container-id> [command args...]");
        if (r < 0)
                return r;

        r = kr_container_open(ctx, argv[optind], false, &lock_fd, &s);
        if (r < 0)
                return r;
        if (kr_status_check(kr_state_effective_status(s), KR_VERB_EXEC, &reason) < 0)
                return log_error_errno(ESRCH, "%s (container %s)", reason, s->id);
        /* Nothing below changes the state; don't hold others up for the process's lifetime. */
        lock_fd = safe_close(lock_fd);

        r = load_process(&a, s, argv + optind + 1, &process);
        if (r < 0)
                return r;
        if (kc_json_get_bool(process, "terminal", false, &terminal) < 0)
                return log_error_errno(EINVAL, "process spec: \"terminal\" must be a boolean");
        p.tty = a.tty || terminal;
        json_object_set_boolean_member(process, "terminal", p.tty);
        p.container_id = s->id;
        p.process = process;
        sdir = kr_sandbox_dir(s);

        if (a.console_socket) {
                if (!p.tty)
                        return log_error_errno(EINVAL, "--console-socket needs a terminal (--tty)");
                r = console_open(a.console_socket, &console_slave);
                if (r < 0)
                        return r;
                p.in_fd = p.out_fd = p.winsize_fd = console_slave;
        } else {
                if (fcntl(STDIN_FILENO, F_GETFD) >= 0)
                        p.in_fd = STDIN_FILENO;
                if (p.tty && isatty(STDIN_FILENO)) {
                        p.winsize_fd = STDIN_FILENO;
                        if (!a.detach && tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
                                struct termios raw = saved_termios;
                                termios_saved = true;
                                atexit(restore_termios);
                                cfmakeraw(&raw);
                                (void) tcsetattr(STDIN_FILENO, TCSANOW, &raw);
                        }
                }
        }

        if (a.detach)
                return run_detached(sdir, &p, a.pid_file);

        if (a.pid_file) {
                r = write_pid_file(a.pid_file, getpid());
                if (r < 0)
                        return r;
        }
        r = kr_exec_run(sdir, &p);
        restore_termios();
        if (r < 0)
                return r;
        return r;
}
