/* The stand-in child: relays the signals it gets over a pipe, exits with the status the monitor sends. */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "fd-util.h"
#include "log.h"
#include "seccomp-standin.h"
#include "vm-standin.h"

struct KcStandin {
        KcReaper *reaper;
        const KcStandinCallbacks *cb;
        void *userdata;
        pid_t pid;
        int sig_fd; /* read: signal numbers from the stand-in, one byte each */
        int ctl_fd; /* write: two bytes {exit_code, signal} */
        guint sig_source;
        bool finishing;
};

static int standin_sig_fd = -1;

static void relay(int sig) {
        unsigned char b = (unsigned char) sig;
        int saved = errno;

        (void) !write(standin_sig_fd, &b, 1);
        errno = saved;
}

static _noreturn_ void standin_main(int sig_fd, int ctl_fd, const KcReaper *reaper, pid_t parent) {
        struct sigaction sa = {.sa_handler = relay, .sa_flags = SA_RESTART};
        unsigned char msg[2];
        ssize_t n;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(255);
        (void) prctl(PR_SET_NAME, "kc-standin");
        kc_reaper_child_reset(reaper);
        /* Keep only our two pipes. */
        if (dup2(sig_fd, 3) < 0 || dup2(ctl_fd, 4) < 0)
                _exit(255);
        (void) close_range(5, ~0U, 0);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
                (void) dup2(devnull, 0);
                (void) dup2(devnull, 1);
                (void) dup2(devnull, 2);
                if (devnull > 4)
                        close(devnull);
        }
        standin_sig_fd = 3;
        sigfillset(&sa.sa_mask);
        for (int sig = 1; sig < NSIG; sig++) {
                if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD)
                        continue;
                (void) sigaction(sig, &sa, NULL);
        }
        /* A re-raised SIGSEGV must not leave a core of the stand-in. */
        (void) setrlimit(RLIMIT_CORE, &(struct rlimit){});
        /* From here on it only waits, relays and exits: nothing else is allowed. */
        (void) kc_seccomp_apply_standin();
        /* Ready: handlers and filter are in place, so the pid may be published. */
        if (write(3, "", 1) != 1)
                _exit(255);

        do
                n = read_full(4, msg, 2);
        while (n < 0 && n == -EINTR);
        if (n != 2)
                _exit(255); /* the monitor is gone */
        if (msg[1] > 0) {
                sigset_t set;
                signal(msg[1], SIG_DFL);
                sigemptyset(&set);
                sigaddset(&set, msg[1]);
                (void) sigprocmask(SIG_UNBLOCK, &set, NULL);
                (void) raise(msg[1]);
                _exit(128 + msg[1]);
        }
        _exit(msg[0]);
}

static gboolean on_sig(int fd, GIOCondition cond, gpointer userdata) {
        KcStandin *s = userdata;
        unsigned char buf[64];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return G_SOURCE_CONTINUE;
        if (n <= 0) {
                s->sig_source = 0;
                return G_SOURCE_REMOVE;
        }
        for (ssize_t i = 0; i < n; i++)
                if (buf[i] > 0 && buf[i] < NSIG && s->cb->signal)
                        s->cb->signal(buf[i], s->userdata);
        return G_SOURCE_CONTINUE;
}

static void on_exit_cb(pid_t pid, int wait_status, void *userdata) {
        KcStandin *s = userdata;

        s->pid = 0;
        /* Signals it relayed just before dying still count. */
        if (s->sig_source)
                (void) on_sig(s->sig_fd, G_IO_IN, s);
        if (s->cb->gone)
                s->cb->gone(s->finishing, wait_status, s->userdata);
}

#define STANDIN_READY_TIMEOUT_MS 5000

int kc_standin_spawn(KcReaper *reaper, const KcStandinCallbacks *cb, void *userdata, KcStandin **ret) {
        int sigp[2], ctlp[2];
        pid_t parent = getpid(), pid;

        if (pipe2(sigp, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(ctlp, O_CLOEXEC) < 0) {
                int r = -errno;
                close(sigp[0]);
                close(sigp[1]);
                return r;
        }
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(sigp[0]);
                close(sigp[1]);
                close(ctlp[0]);
                close(ctlp[1]);
                return r;
        }
        if (pid == 0)
                standin_main(sigp[1], ctlp[0], reaper, parent);
        close(sigp[1]);
        close(ctlp[0]);

        /* Wait for the ready byte (0) so that nobody sees the pid before the stand-in relays
         * signals: a SIGTERM to a half-started stand-in would kill it instead. Signal bytes
         * that come first are kept and replayed once the watch is set up. */
        unsigned char early[64];
        size_t n_early = 0;
        int r = 0;
        for (;;) {
                struct pollfd pfd = {.fd = sigp[0], .events = POLLIN};
                unsigned char b;
                int k = poll(&pfd, 1, STANDIN_READY_TIMEOUT_MS);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = k == 0 ? -ETIMEDOUT : -errno;
                        break;
                }
                ssize_t n = read(sigp[0], &b, 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n != 1) {
                        r = -ECHILD; /* it died before it was ready */
                        break;
                }
                if (b == 0)
                        break;
                if (n_early < sizeof(early))
                        early[n_early++] = b;
        }
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                close(sigp[0]);
                close(ctlp[1]);
                return r;
        }

        KcStandin *s = g_new0(KcStandin, 1);
        s->reaper = reaper;
        s->cb = cb;
        s->userdata = userdata;
        s->pid = pid;
        s->sig_fd = sigp[0];
        s->ctl_fd = ctlp[1];
        (void) fd_set_nonblock(s->sig_fd, true);
        s->sig_source = g_unix_fd_add(s->sig_fd, G_IO_IN | G_IO_HUP, on_sig, s);
        kc_reaper_watch(reaper, pid, on_exit_cb, s);
        for (size_t i = 0; i < n_early; i++)
                if (early[i] < NSIG && s->cb->signal)
                        s->cb->signal(early[i], s->userdata);
        *ret = s;
        return 0;
}

pid_t kc_standin_pid(const KcStandin *s) {
        return s ? s->pid : 0;
}

int kc_standin_finish(KcStandin *s, int exit_code, int signal) {
        unsigned char msg[2] = {(unsigned char) exit_code,
                                (unsigned char) (signal > 0 && signal < NSIG ? signal : 0)};

        if (!s || s->pid <= 0)
                return -ESRCH;
        s->finishing = true;
        return write_all(s->ctl_fd, msg, 2);
}

void kc_standin_free(KcStandin *s) {
        if (!s)
                return;
        if (s->sig_source)
                g_source_remove(s->sig_source);
        if (s->pid > 0) {
                kc_reaper_unwatch(s->reaper, s->pid);
                (void) kill(s->pid, SIGKILL);
                (void) waitpid(s->pid, NULL, 0);
        }
        safe_close(s->sig_fd);
        safe_close(s->ctl_fd);
        g_free(s);
}
