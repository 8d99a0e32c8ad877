/* The seccomp filter of the container stand-in: a process that only waits and forwards signals. */
#include <errno.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "macro.h"
#include "seccomp-standin.h"

#if HAVE_SECCOMP
#include <seccomp.h>
#endif

const char *const kc_seccomp_standin_syscalls[] = {
        /* signals: install handlers, block/unblock, wait for them, return from handlers */
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "rt_sigsuspend",
        "rt_sigtimedwait",
        "rt_sigpending",
        "sigaltstack",
        "signalfd4",
        "restart_syscall",
        "pause",
        /* waiting on the monitor's pipe / signalfd */
        "read",
        "write",
        "close",
        "poll",
        "ppoll",
        "nanosleep",
        "clock_nanosleep",
        "clock_gettime",
        "gettimeofday",
        "getpid",
        "getppid",
        "gettid",
        "exit",
        "exit_group",
        NULL,
};

#if HAVE_SECCOMP
static void release_filter(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

static int build_filter(scmp_filter_ctx *ret) {
        scmp_filter_ctx ctx;
        int r;

        ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
        if (!ctx)
                return -ENOMEM;
        for (size_t i = 0; kc_seccomp_standin_syscalls[i]; i++) {
                int nr = seccomp_syscall_resolve_name(kc_seccomp_standin_syscalls[i]);

                /* A call this architecture lacks (e.g. pause on arm64) needs no rule. */
                if (nr == __NR_SCMP_ERROR)
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
                if (r < 0) {
                        seccomp_release(ctx);
                        return r;
                }
        }
        /* Signals to itself only: the stand-in dies of the guest process's signal by
         * re-raising it (raise() is tgkill(getpid(), gettid(), sig) in glibc). */
        pid_t pid = getpid(), tid = (pid_t) syscall(SYS_gettid);
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                             SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t) pid));
        if (r >= 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
                                     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t) pid),
                                     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t) tid));
        if (r >= 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tkill), 1,
                                     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t) tid));
        if (r < 0) {
                seccomp_release(ctx);
                return r;
        }
        *ret = ctx;
        return 0;
}
#endif

int kc_seccomp_apply_standin(void) {
#if HAVE_SECCOMP
        _cleanup_(release_filter) scmp_filter_ctx ctx = NULL;
        int r;

        r = build_filter(&ctx);
        if (r < 0)
                return r;
        /* libseccomp returns -errno (-ECANCELED for kernel failures with errno lost). */
        return seccomp_load(ctx);
#else
        return -EOPNOTSUPP;
#endif
}

int kc_seccomp_export_standin(int fd) {
#if HAVE_SECCOMP
        _cleanup_(release_filter) scmp_filter_ctx ctx = NULL;
        int r;

        r = build_filter(&ctx);
        if (r < 0)
                return r;
        return seccomp_export_pfc(ctx, fd);
#else
        return -EOPNOTSUPP;
#endif
}
