/* Diagnostics sink of kata-runtime: text or JSON lines into --log, errors on stderr, like runc. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "config.h"
#if HAVE_JOURNALD
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#endif

#include "cli-log.h"
#include "fd-util.h"
#include "log.h"
#include "macro.h"

static int log_fd = -EBADF;
static KrLogFormat log_format = KR_LOG_TEXT;
static bool log_debug_stderr;
static bool log_journal;

int kr_log_format_from_string(const char *s, KrLogFormat *ret) {
        if (strcmp(s, "text") == 0)
                *ret = KR_LOG_TEXT;
        else if (strcmp(s, "json") == 0)
                *ret = KR_LOG_JSON;
        else
                return -EINVAL;
        return 0;
}

static const char *level_name(int priority) {
        if (priority <= LOG_ERR)
                return "error";
        if (priority == LOG_WARNING)
                return "warning";
        if (priority <= LOG_INFO)
                return "info";
        return "debug";
}

char *kr_log_format_line(KrLogFormat format, int priority, const char *message, const char *time) {
        if (format == KR_LOG_JSON) {
                g_autoptr(JsonBuilder) b = json_builder_new();
                g_autoptr(JsonGenerator) gen = json_generator_new();
                g_autoptr(JsonNode) root = NULL;
                g_autofree char *text = NULL;

                json_builder_begin_object(b);
                json_builder_set_member_name(b, "level");
                json_builder_add_string_value(b, level_name(priority));
                json_builder_set_member_name(b, "msg");
                json_builder_add_string_value(b, message);
                json_builder_set_member_name(b, "time");
                json_builder_add_string_value(b, time);
                json_builder_end_object(b);
                root = json_builder_get_root(b);
                json_generator_set_root(gen, root);
                text = json_generator_to_data(gen, NULL);
                return g_strconcat(text, "\n", NULL);
        }

        g_autofree char *quoted = g_strescape(message, NULL);
        return g_strdup_printf("time=\"%s\" level=%s msg=\"%s\"\n", time, level_name(priority), quoted);
}

static char *now_rfc3339(void) {
        struct timespec ts;
        struct tm tm;
        char buf[64];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
        return g_strdup_printf("%s.%09ldZ", buf, ts.tv_nsec);
}

static void journal_send(const KcLogRecord *rec) {
#if HAVE_JOURNALD
        const char *const *fields = kc_log_get_fields();
        g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
        struct iovec iov[32];
        size_t n = 0;

        g_ptr_array_add(items, g_strdup_printf("MESSAGE=%s", rec->message));
        g_ptr_array_add(items, g_strdup_printf("PRIORITY=%d", rec->priority));
        g_ptr_array_add(items, g_strdup_printf("SYSLOG_IDENTIFIER=%s", kc_log_get_ident()));
        g_ptr_array_add(items, g_strdup_printf("CODE_FILE=%s", rec->file));
        g_ptr_array_add(items, g_strdup_printf("CODE_LINE=%d", rec->line));
        g_ptr_array_add(items, g_strdup_printf("CODE_FUNC=%s", rec->func));
        /* CONTAINER_ID_FULL, KATA_SANDBOX_ID, ... set by the verbs. */
        for (size_t i = 0; fields[i]; i++)
                g_ptr_array_add(items, g_strdup(fields[i]));
        for (guint i = 0; i < items->len && n < G_N_ELEMENTS(iov); i++)
                iov[n++] = (struct iovec) { items->pdata[i], strlen(items->pdata[i]) };
        (void) sd_journal_sendv(iov, (int) n);
#endif
}

static void cli_sink(const KcLogRecord *rec, void *userdata) {
        g_autofree char *time = NULL, *line = NULL;

        /* stderr always gets errors and warnings: CRI-O reads the reason (and "not found"
         * phrases) from it. Debug records reach stderr only when there is no --log file. */
        if (rec->priority <= LOG_WARNING || log_debug_stderr)
                fprintf(stderr, "%s: %s\n", kc_log_get_ident(), rec->message);
        if (log_journal)
                journal_send(rec);
        if (log_fd < 0)
                return;
        time = now_rfc3339();
        line = kr_log_format_line(log_format, rec->priority, rec->message, time);
        (void) write_all(log_fd, line, strlen(line));
}

int kr_log_setup(const char *log_path, KrLogFormat format, bool debug) {
        kc_log_set_ident("kata-runtime");
        kc_log_set_level(debug ? LOG_DEBUG : LOG_WARNING);
        log_format = format;

        if (log_path && *log_path) {
                int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
                if (fd < 0)
                        return negative_errno();
                log_fd = fd;
        }
        log_debug_stderr = debug && log_fd < 0;
        log_journal = HAVE_JOURNALD && access("/run/systemd/journal/socket", W_OK) == 0;
        kc_log_set_sink(cli_sink, NULL);
        kc_log_set_stderr(false);
        return 0;
}

void kr_log_close(void) {
        log_fd = safe_close(log_fd);
}
