/* Diagnostics for our own programs (not container output): levels, -errno returning helpers. */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

/* A sink gets every record at or above the current level. The default sink writes
 * "<ident>[<level>]: message" to stderr; kc_log_journal_install() (libkcjournal) adds journald. */
typedef struct KcLogRecord {
        int priority; /* LOG_ERR .. LOG_DEBUG */
        const char *file;
        int line;
        const char *func;
        const char *message;
} KcLogRecord;

typedef void (*KcLogSink)(const KcLogRecord *rec, void *userdata);

void kc_log_set_ident(const char *ident);
const char *kc_log_get_ident(void);
void kc_log_set_level(int priority);
int kc_log_get_level(void);
/* Parses conmon/runc level names (error, fatal, panic, warn, warning, info, debug, trace),
 * case-insensitively. Returns the syslog priority or -EINVAL. */
int kc_log_parse_level(const char *name);
/* Replaces the sink; NULL restores stderr. */
void kc_log_set_sink(KcLogSink sink, void *userdata);
/* Whether the stderr sink is used in addition to a custom sink. */
void kc_log_set_stderr(bool enabled);
/* Extra KEY=VALUE fields attached to every record by sinks that support fields (journald). */
void kc_log_set_field(const char *key, const char *value);
/* Returns a NULL-terminated array of "KEY=VALUE" strings, owned by the log module. */
const char *const *kc_log_get_fields(void);

int kc_log_internal(int priority, int error, const char *file, int line, const char *func,
                    const char *format, ...) _printf_(6, 7);

/* All of these return -abs(error) (or 0 for plain logging) so that a call site can
 * `return log_error_errno(r, "Failed to ...: %m");`. %m expands to strerror(error). */
#define log_full_errno(prio, error, ...) \
        kc_log_internal((prio), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
