/* The set of log drivers chosen with -l: validation, fan-out of chunks, reopen, flush. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log-internal.h"
#include "log.h"

struct KcLogSet {
        bool passthrough;
        KcK8sLog *k8s;
        KcJournaldLog *journald;
        KcLogClock clock;
};

static int realtime_clock(struct timespec *ret) {
        return clock_gettime(CLOCK_REALTIME, ret);
}

static int set_error(char **ret_error, const char *msg) {
        if (ret_error && !(*ret_error = strdup(msg)))
                return -ENOMEM;
        return -EINVAL;
}

int kc_log_open(const KcLogOptions *opts, KcLogSet **ret, char **ret_error) {
        KcLogDrivers d = {};
        KcLogSet *set = NULL;
        int r;

        if (ret_error)
                *ret_error = NULL;

        /* Same order of checks as conmon, so the same message wins when several apply. */
        r = kc_log_parse_drivers(opts->log_paths, &d, ret_error);
        if (r < 0)
                return r;

        set = calloc(1, sizeof(*set));
        if (!set) {
                r = -ENOMEM;
                goto fail;
        }
        set->clock = realtime_clock;
        set->passthrough = d.passthrough;

        if (d.k8s_file) {
                r = kc_k8s_log_open(opts, d.k8s_path, &set->k8s);
                if (r < 0) {
                        char *m = NULL;
                        errno = -r;
                        if (ret_error && asprintf(&m, "Failed to open log file %m") >= 0)
                                *ret_error = m;
                        r = -EINVAL;
                        goto fail;
                }
                if (!d.journald) {
                        if (opts->tag) {
                                r = set_error(ret_error, "k8s-file doesn't support --log-tag");
                                goto fail;
                        }
                        if (opts->labels && opts->labels[0]) {
                                r = set_error(ret_error, "k8s-file doesn't support --log-label");
                                goto fail;
                        }
                }
        }

        if (d.journald) {
#if HAVE_JOURNALD
                if (!opts->cid || strlen(opts->cid) <= 12) {
                        r = set_error(ret_error, "Container ID must be longer than 12 characters");
                        goto fail;
                }
                r = kc_journald_check_labels(opts->labels, ret_error);
                if (r < 0)
                        goto fail;
                r = kc_journald_log_new(opts, &set->journald);
                if (r < 0)
                        goto fail;
#else
                r = set_error(ret_error, "Include journald in compilation path to log to systemd journal");
                goto fail;
#endif
        } else if (opts->no_partial_message)
                log_warning("--no-container-partial-message has no effect without journald log driver");

        kc_log_drivers_done(&d);
        *ret = set;
        return 0;

fail:
        kc_log_drivers_done(&d);
        kc_log_free(set);
        return r;
}

const char *kc_log_error_prefix(const char *message) {
        static const char *const plain[] = {
                "Log driver not provided. Use --log-path",
                "k8s-file doesn't support --log-tag",
                "k8s-file doesn't support --log-label",
                "Container ID must be longer than 12 characters",
                "Include journald in compilation path to log to systemd journal",
        };

        for (size_t i = 0; message && i < ELEMENTSOF(plain); i++)
                if (strcmp(message, plain[i]) == 0)
                        return "[conmon:e] ";
        return "[conmon:e]: ";
}

bool kc_log_is_passthrough(const KcLogSet *set) {
        return set && set->passthrough;
}

bool kc_log_has_drivers(const KcLogSet *set) {
        return set && (set->k8s || set->journald);
}

void kc_log_write(KcLogSet *set, KcStream stream, const char *buf, size_t len) {
        struct timespec ts = {};

        if (!set || len == 0)
                return;
        if (set->k8s) {
                /* One timestamp for every line of the chunk, as conmon. */
                if (set->clock(&ts) < 0)
                        ts = (struct timespec){};
                kc_k8s_log_write(set->k8s, stream, &ts, buf, len);
        }
#if HAVE_JOURNALD
        if (set->journald)
                kc_journald_log_write(set->journald, stream, buf, len);
#endif
}

int kc_log_reopen(KcLogSet *set) {
        if (!set || !set->k8s)
                return 0;
        return kc_k8s_log_reopen(set->k8s);
}

void kc_log_flush(KcLogSet *set) {
        if (!set)
                return;
#if HAVE_JOURNALD
        if (set->journald)
                kc_journald_log_flush(set->journald);
#endif
        if (set->k8s)
                kc_k8s_log_sync(set->k8s);
}

void kc_log_free(KcLogSet *set) {
        if (!set)
                return;
        kc_k8s_log_free(set->k8s);
#if HAVE_JOURNALD
        kc_journald_log_free(set->journald);
#endif
        free(set);
}

void kc_log_set_clock(KcLogSet *set, KcLogClock clock) {
        set->clock = clock ? clock : realtime_clock;
}

KcK8sLog *kc_log_set_k8s(KcLogSet *set) {
        return set->k8s;
}

KcJournaldLog *kc_log_set_journald(KcLogSet *set) {
        return set->journald;
}
