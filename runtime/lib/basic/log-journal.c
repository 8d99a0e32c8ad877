/* journald sink for our diagnostics: SYSLOG_IDENTIFIER, caller location and our KATA_* fields. */
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "log-journal.h"
#include "log.h"

#if HAVE_JOURNALD
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

static void journal_sink(const KcLogRecord *rec, void *userdata) {
        const char *const *fields = kc_log_get_fields();
        struct iovec iov[24];
        char prio[32], ident[128], file[512], line[32], func[256];
        size_t n = 0;
        _cleanup_free_ char *msg = NULL;

        if (asprintf(&msg, "MESSAGE=%s", rec->message) < 0)
                return;
        snprintf(prio, sizeof(prio), "PRIORITY=%d", rec->priority);
        snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", kc_log_get_ident());
        snprintf(file, sizeof(file), "CODE_FILE=%s", rec->file);
        snprintf(line, sizeof(line), "CODE_LINE=%d", rec->line);
        snprintf(func, sizeof(func), "CODE_FUNC=%s", rec->func);
        iov[n++] = (struct iovec) { msg, strlen(msg) };
        iov[n++] = (struct iovec) { prio, strlen(prio) };
        iov[n++] = (struct iovec) { ident, strlen(ident) };
        iov[n++] = (struct iovec) { file, strlen(file) };
        iov[n++] = (struct iovec) { line, strlen(line) };
        iov[n++] = (struct iovec) { func, strlen(func) };
        for (size_t i = 0; fields[i] && n < ELEMENTSOF(iov); i++)
                iov[n++] = (struct iovec) { (void *) fields[i], strlen(fields[i]) };
        (void) sd_journal_sendv(iov, (int) n);
}

bool kc_log_journal_install(bool keep_stderr) {
        if (access("/run/systemd/journal/socket", W_OK) < 0)
                return false;
        kc_log_set_sink(journal_sink, NULL);
        kc_log_set_stderr(keep_stderr);
        return true;
}
#else
bool kc_log_journal_install(bool keep_stderr) {
        return false;
}
#endif
