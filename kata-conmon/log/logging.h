/* Container output logging: the set of log drivers chosen with -l, fed with stdout/stderr chunks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum KcStream {
        KC_STREAM_STDIN = 1, /* numbering matches the attach socket's stream id byte */
        KC_STREAM_STDOUT = 2,
        KC_STREAM_STDERR = 3,
} KcStream;

typedef struct KcLogOptions {
        char **log_paths;      /* every -l/--log-path value, in order (NULL-terminated) */
        const char *cid;       /* --cid */
        const char *name;      /* --name, may be NULL */
        const char *tag;       /* --log-tag, may be NULL */
        char **labels;         /* --log-label KEY=VALUE, NULL-terminated, may be NULL */
        int64_t size_max;      /* --log-size-max, <= 0: unlimited */
        int64_t global_size_max; /* --log-global-size-max, <= 0: unlimited */
        bool rotate;           /* --log-rotate */
        int max_files;         /* --log-max-files (default 1) */
        char **allowlist_dirs; /* --log-allowlist-dir, NULL-terminated, may be NULL */
        bool no_partial_message; /* --no-container-partial-message */
        bool no_sync;          /* --no-sync-log */
} KcLogOptions;

typedef struct KcLogSet KcLogSet;

/* Validates the driver list and opens the k8s-file log (created before the monitor forks).
 * On a usage error returns -EINVAL and sets *ret_error to conmon's exact message
 * ("Log driver not provided. Use --log-path", "No such log driver X", "k8s-file requires a
 * filename", "log-path must not be empty", "k8s-file doesn't support --log-tag", "Container ID
 * must be longer than 12 characters", "Failed to open log file <strerror>", ...), caller frees it.
 * Prints "--no-container-partial-message has no effect without journald log driver" as a warning
 * when that applies. */
int kc_log_open(const KcLogOptions *opts, KcLogSet **ret, char **ret_error);
/* conmon prints its usage errors with two prefixes: "[conmon:e] " (nexit: "Log driver not
 * provided...", "k8s-file doesn't support ...", "Container ID must be ...") and "[conmon:e]: "
 * (everything else). Returns the one conmon uses for a message from kc_log_open(). */
const char *kc_log_error_prefix(const char *message);
/* True when a passthrough driver was selected: no pipes, the runtime inherits our stdio. */
bool kc_log_is_passthrough(const KcLogSet *set);
/* True when at least one driver writes somewhere (not none/passthrough only). */
bool kc_log_has_drivers(const KcLogSet *set);
/* One chunk as read from the container (at most 8192 bytes); all lines share one timestamp.
 * Write errors are logged (our diagnostics) and the data dropped; never blocks indefinitely. */
void kc_log_write(KcLogSet *set, KcStream stream, const char *buf, size_t len);
/* ctl "2 0 0": start a fresh file at the same path (or rotate with --log-rotate). Errors are
 * returned, not fatal: the caller warns and keeps logging to the old file. */
int kc_log_reopen(KcLogSet *set);
/* Flushes partial journald records and fsyncs the k8s-file (unless --no-sync-log). */
void kc_log_flush(KcLogSet *set);
void kc_log_free(KcLogSet *set);
