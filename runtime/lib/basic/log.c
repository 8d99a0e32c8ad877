/* Diagnostics core: level filtering, %m expansion, pluggable sink (stderr by default). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define MAX_FIELDS 16

static const char *log_ident = "kata-conmon";
static int log_level = LOG_WARNING;
static KcLogSink log_sink;
static void *log_sink_userdata;
static bool log_stderr = true;
static char *log_fields[MAX_FIELDS + 1];

void kc_log_set_ident(const char *ident) {
        log_ident = ident;
}

const char *kc_log_get_ident(void) {
        return log_ident;
}

void kc_log_set_level(int priority) {
        log_level = priority;
}

int kc_log_get_level(void) {
        return log_level;
}

int kc_log_parse_level(const char *name) {
        static const struct {
                const char *name;
                int priority;
        } table[] = {
                { "panic", LOG_CRIT },  { "fatal", LOG_CRIT },     { "error", LOG_ERR },
                { "warn", LOG_WARNING }, { "warning", LOG_WARNING }, { "info", LOG_INFO },
                { "debug", LOG_DEBUG }, { "trace", LOG_DEBUG },
        };
        if (!name)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcasecmp(name, table[i].name) == 0)
                        return table[i].priority;
        return -EINVAL;
}

void kc_log_set_sink(KcLogSink sink, void *userdata) {
        log_sink = sink;
        log_sink_userdata = userdata;
}

void kc_log_set_stderr(bool enabled) {
        log_stderr = enabled;
}

void kc_log_set_field(const char *key, const char *value) {
        size_t klen = strlen(key);
        size_t i;

        for (i = 0; i < MAX_FIELDS && log_fields[i]; i++)
                if (strncmp(log_fields[i], key, klen) == 0 && log_fields[i][klen] == '=')
                        break;
        if (i == MAX_FIELDS)
                return;
        free(log_fields[i]);
        if (!value) {
                /* Remove: shift the tail down. */
                for (; i < MAX_FIELDS && log_fields[i]; i++)
                        log_fields[i] = log_fields[i + 1];
                return;
        }
        if (asprintf(&log_fields[i], "%s=%s", key, value) < 0)
                log_fields[i] = NULL;
}

const char *const *kc_log_get_fields(void) {
        return (const char *const *) log_fields;
}

static char level_letter(int priority) {
        switch (priority) {
        case LOG_EMERG:
        case LOG_ALERT:
        case LOG_CRIT:
        case LOG_ERR:
                return 'e';
        case LOG_WARNING:
                return 'w';
        case LOG_NOTICE:
        case LOG_INFO:
                return 'i';
        default:
                return 'd';
        }
}

int kc_log_internal(int priority, int error, const char *file, int line, const char *func,
                    const char *format, ...) {
        char buf[4096];
        va_list ap;
        int saved_errno = errno;

        if (error < 0)
                error = -error;
        if (priority > log_level)
                return -error;

        /* %m in the format refers to the error we were given, not to whatever errno is now. */
        errno = error;
        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);

        KcLogRecord rec = {
                .priority = priority,
                .file = file,
                .line = line,
                .func = func,
                .message = buf,
        };
        if (log_sink)
                log_sink(&rec, log_sink_userdata);
        if (!log_sink || log_stderr)
                fprintf(stderr, "[%s:%c]: %s\n", log_ident, level_letter(priority), buf);

        errno = saved_errno;
        return -error;
}
