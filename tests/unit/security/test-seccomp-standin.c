/* Unit tests for the stand-in seccomp filter: a forked child is confined, allowed calls work. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "seccomp-standin.h"

/* What the confined child reports through its pipe. */
typedef struct Report {
        int apply;        /* kc_seccomp_apply_standin() */
        int openat_errno; /* a denied call */
        int socket_errno; /* another denied call */
        int kill_errno;   /* signalling another process is denied too */
        long getpid;      /* an allowed call */
        long getpid_errno;
        int self_kill; /* signal 0 to itself: allowed */
        int self_tgkill;
} Report;

static int report_fd = -1;

static void on_signal(int sig) {
        int v = sig;
        /* write is on the allow list: this is the stand-in forwarding a signal. */
        (void) !write(report_fd, &v, sizeof(v));
}

_Noreturn static void child(int fd, pid_t parent) {
        Report r = {};
        struct sigaction sa = {.sa_handler = on_signal};
        sigset_t block, wait_mask;
        long v;

        report_fd = fd;
        /* A failed assertion in the parent must not leave us behind holding its stdout. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(1);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                _exit(1);
        /* Block SIGTERM until we wait for it, so that the parent's signal cannot be lost. */
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigprocmask(SIG_BLOCK, &block, &wait_mask);

        r.apply = kc_seccomp_apply_standin();

        v = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
        r.openat_errno = v < 0 ? errno : 0;
        v = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        r.socket_errno = v < 0 ? errno : 0;
        v = syscall(SYS_kill, getppid(), 0);
        r.kill_errno = v < 0 ? errno : 0;
        errno = 0;
        r.getpid = syscall(SYS_getpid);
        r.getpid_errno = errno;
        r.self_kill = syscall(SYS_kill, getpid(), 0) < 0 ? errno : 0;
        r.self_tgkill = syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 0) < 0 ? errno : 0;

        /* Installing a handler and waiting are allowed. */
        sigaction(SIGTERM, &sa, NULL);
        (void) !write(fd, &r, sizeof(r));
        sigdelset(&wait_mask, SIGTERM);
        sigsuspend(&wait_mask);
        /* Die of the signal, as the stand-in does with the guest process's signal. */
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_UNBLOCK, &block, NULL);
        raise(SIGTERM);
        /* _exit: no atexit handlers (a sanitizer's leak checker would need denied calls). */
        _exit(0);
}

static void read_exact(int fd, void *buf, size_t len) {
        size_t done = 0;

        while (done < len) {
                ssize_t n = read(fd, (char *) buf + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                g_assert_cmpint(n, >, 0);
                done += n;
        }
}

static char *status_field(pid_t pid, const char *field) {
        g_autofree char *path = g_strdup_printf("/proc/%d/status", (int) pid);
        g_autofree char *text = NULL;

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        for (char **l = g_strsplit(text, "\n", -1), **p = l; *p; p++)
                if (g_str_has_prefix(*p, field) && (*p)[strlen(field)] == ':') {
                        char *v = g_strdup(g_strstrip(*p + strlen(field) + 1));
                        g_strfreev(l);
                        return v;
                }
        g_assert_not_reached();
}

static void test_standin_filter(void) {
        int fds[2], status, sig = 0;
        Report r = {};
        pid_t pid, parent = getpid();

        if (!HAVE_SECCOMP) {
                g_assert_cmpint(kc_seccomp_apply_standin(), ==, -EOPNOTSUPP);
                g_test_skip("built without libseccomp (-Dseccomp=disabled or libseccomp-dev missing): "
                            "the stand-in runs unfiltered");
                return;
        }

        g_assert_cmpint(pipe2(fds, O_CLOEXEC), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                close(fds[0]);
                child(fds[1], parent);
        }
        close(fds[1]);

        read_exact(fds[0], &r, sizeof(r));
        g_assert_cmpint(r.apply, ==, 0);
        g_assert_cmpint(r.openat_errno, ==, EPERM);
        g_assert_cmpint(r.socket_errno, ==, EPERM);
        g_assert_cmpint(r.kill_errno, ==, EPERM);
        g_assert_cmpint(r.getpid_errno, ==, 0);
        g_assert_cmpint(r.getpid, ==, pid);
        g_assert_cmpint(r.self_kill, ==, 0);
        g_assert_cmpint(r.self_tgkill, ==, 0);

        /* Seen from outside: filter mode, and NO_NEW_PRIVS set by seccomp_load(). */
        g_autofree char *seccomp = status_field(pid, "Seccomp");
        g_autofree char *nnp = status_field(pid, "NoNewPrivs");
        g_assert_cmpstr(seccomp, ==, "2");
        g_assert_cmpstr(nnp, ==, "1");

        /* The confined stand-in still receives a signal and forwards it. */
        g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
        read_exact(fds[0], &sig, sizeof(sig));
        g_assert_cmpint(sig, ==, SIGTERM);

        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFSIGNALED(status));
        g_assert_cmpint(WTERMSIG(status), ==, SIGTERM);
        close(fds[0]);
}

static void test_parent_not_confined(void) {
        /* Only the child was filtered: the test process itself still opens files. */
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        close(fd);
}

static void test_export(void) {
        g_autofree char *text = NULL;
        char path[] = "/tmp/kc-seccomp-XXXXXX";
        int fd;

        if (!HAVE_SECCOMP) {
                g_assert_cmpint(kc_seccomp_export_standin(1), ==, -EOPNOTSUPP);
                return;
        }
        fd = mkstemp(path);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(kc_seccomp_export_standin(fd), ==, 0);
        close(fd);
        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        unlink(path);
        g_assert_nonnull(strstr(text, "rt_sigaction"));
        g_assert_nonnull(strstr(text, "exit_group"));
        g_assert_null(strstr(text, "\"openat\""));
        g_assert_nonnull(strstr(text, "ERRNO(1)"));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/seccomp-standin/filter", test_standin_filter);
        g_test_add_func("/seccomp-standin/parent-not-confined", test_parent_not_confined);
        g_test_add_func("/seccomp-standin/export", test_export);
        return g_test_run();
}
