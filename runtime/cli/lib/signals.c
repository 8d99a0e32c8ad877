/* Signal parsing for `kill`: numbers and case-insensitive names, the way runc and crun take them. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fd-util.h"
#include "macro.h"
#include "signals.h"

static const struct {
        const char *name;
        int number;
} signal_table[] = {
        {"HUP", SIGHUP},       {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
        {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},   {"IOT", SIGIOT},   {"BUS", SIGBUS},
        {"FPE", SIGFPE},       {"KILL", SIGKILL},   {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
        {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
        {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CLD", SIGCHLD},  {"CONT", SIGCONT},
        {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
        {"URG", SIGURG},       {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
        {"PROF", SIGPROF},     {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"POLL", SIGPOLL},
        {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

static int parse_number(const char *s, int *ret) {
        int n, r;

        if (!*s || strchr(s, ' ') || *s == '+' || *s == '-')
                return -EINVAL;
        r = safe_atoi(s, &n);
        if (r < 0)
                return -EINVAL;
        *ret = n;
        return 0;
}

/* RTMIN, RTMIN+n, RTMAX, RTMAX-n */
static int parse_realtime(const char *s, int *ret) {
        int base, sign, n = 0;

        if (strncasecmp(s, "RTMIN", 5) == 0) {
                base = SIGRTMIN;
                sign = '+';
        } else if (strncasecmp(s, "RTMAX", 5) == 0) {
                base = SIGRTMAX;
                sign = '-';
        } else
                return -EINVAL;
        s += 5;
        if (*s) {
                if (*s != sign || parse_number(s + 1, &n) < 0)
                        return -EINVAL;
        }
        n = sign == '+' ? base + n : base - n;
        if (n < SIGRTMIN || n > SIGRTMAX)
                return -EINVAL;
        *ret = n;
        return 0;
}

int kr_signal_parse(const char *s, int *ret) {
        int n;

        if (!s || !*s)
                return -EINVAL;

        if (s[0] >= '0' && s[0] <= '9') {
                if (parse_number(s, &n) < 0 || n < 1 || n > SIGRTMAX)
                        return -EINVAL;
                *ret = n;
                return 0;
        }

        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
                if (strcasecmp(s, signal_table[i].name) == 0) {
                        *ret = signal_table[i].number;
                        return 0;
                }
        if (parse_realtime(s, &n) == 0) {
                *ret = n;
                return 0;
        }
        return -EINVAL;
}

const char *kr_signal_name(int sig) {
        for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
                if (signal_table[i].number == sig)
                        return signal_table[i].name;
        return NULL;
}
