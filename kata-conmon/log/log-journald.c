/* The journald log driver: one sd_journal_sendv per line, partial lines buffered per stream. */
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "log-internal.h"
#include "log.h"

typedef struct Partial {
        size_t len;
        char buf[KC_LOG_LINE_MAX];
} Partial;

struct KcJournaldLog {
        KcJournaldFields fields;
        KcJournaldSend send;
        void *userdata;
        bool send_failing;
        Partial partial[2]; /* stdout, stderr */
        /* A record is at most a buffered fragment plus one line of a chunk. */
        char assembled[2 * KC_LOG_LINE_MAX];
        char msg_field[8 + 2 * KC_LOG_LINE_MAX];
        size_t n_iov;
        struct iovec iov[];
};

static int default_send(const struct iovec *iov, int n, void *userdata) {
        return sd_journal_sendv(iov, n);
}

int kc_journald_log_new(const KcLogOptions *opts, KcJournaldLog **ret) {
        size_t n_labels = 0;
        KcJournaldLog *j;
        int r;

        if (opts->labels)
                while (opts->labels[n_labels])
                        n_labels++;
        j = calloc(1, sizeof(*j) + (KC_JOURNALD_FIXED_FIELDS + n_labels) * sizeof(struct iovec));
        if (!j)
                return -ENOMEM;
        j->n_iov = KC_JOURNALD_FIXED_FIELDS + n_labels;
        r = kc_journald_fields_init(&j->fields, opts);
        if (r < 0) {
                free(j);
                return r;
        }
        j->send = default_send;
        *ret = j;
        return 0;
}

void kc_journald_log_set_sender(KcJournaldLog *j, KcJournaldSend send, void *userdata) {
        j->send = send ? send : default_send;
        j->userdata = userdata;
}

void kc_journald_log_free(KcJournaldLog *j) {
        if (!j)
                return;
        kc_journald_fields_done(&j->fields);
        free(j);
}

static void emit(KcJournaldLog *j, KcStream stream, const char *msg, size_t len, bool partial,
                 bool parse_prefix) {
        size_t n = kc_journald_build_fields(&j->fields, stream, msg, len, partial, parse_prefix,
                                            j->msg_field, sizeof(j->msg_field), j->iov, j->n_iov);
        int r;

        if (n == 0)
                return;
        r = j->send(j->iov, (int) n, j->userdata);
        if (r < 0) {
                if (!j->send_failing)
                        log_warning_errno(r, "Failed to send container output to journald, dropping it: %m");
                j->send_failing = true;
        } else
                j->send_failing = false;
}

/* Sends the buffered fragment joined with msg; the <N> prefix counts only at a line start. */
static void emit_joined(KcJournaldLog *j, KcStream stream, Partial *p, const char *msg, size_t len,
                        bool partial) {
        if (p->len == 0) {
                emit(j, stream, msg, len, partial, true);
                return;
        }
        memcpy(j->assembled, p->buf, p->len);
        memcpy(j->assembled + p->len, msg, len);
        emit(j, stream, j->assembled, p->len + len, partial, false);
        p->len = 0;
}

void kc_journald_log_write(KcJournaldLog *j, KcStream stream, const char *buf, size_t len) {
        Partial *p = &j->partial[stream == KC_STREAM_STDERR ? 1 : 0];

        while (len > 0) {
                size_t max = len < KC_LOG_LINE_MAX ? len : KC_LOG_LINE_MAX;
                const char *nl = memchr(buf, '\n', max);
                bool partial = !nl;
                size_t line_len = partial ? max : (size_t) (nl - buf) + 1;

                if (partial && line_len < sizeof(p->buf) - p->len) {
                        memcpy(p->buf + p->len, buf, line_len);
                        p->len += line_len;
                        return;
                }
                emit_joined(j, stream, p, buf, line_len, partial);
                buf += line_len;
                len -= line_len;
        }
}

void kc_journald_log_flush(KcJournaldLog *j) {
        for (int i = 0; i < 2; i++) {
                Partial *p = &j->partial[i];
                if (p->len > 0) {
                        KcStream s = i == 0 ? KC_STREAM_STDOUT : KC_STREAM_STDERR;
                        /* Like conmon, a leftover fragment is not checked for a <N> prefix. */
                        emit(j, s, p->buf, p->len, true, false);
                        p->len = 0;
                }
        }
}
