/* journald records as conmon sends them: the field vector (pure) and --log-label validation. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log-internal.h"

#define SHORT_ID_LEN 12

static const char *const priority_fields[8] = {
        "PRIORITY=0", "PRIORITY=1", "PRIORITY=2", "PRIORITY=3",
        "PRIORITY=4", "PRIORITY=5", "PRIORITY=6", "PRIORITY=7",
};

static char *field(const char *key, const char *value, size_t len) {
        char *s = NULL;
        if (asprintf(&s, "%s=%.*s", key, (int) len, value) < 0)
                return NULL;
        return s;
}

int kc_journald_fields_init(KcJournaldFields *f, const KcLogOptions *opts) {
        const char *ident;
        size_t n = 0;

        *f = (KcJournaldFields){.no_partial = opts->no_partial_message};
        if (!opts->cid || strlen(opts->cid) <= SHORT_ID_LEN)
                return -EINVAL;

        /* SYSLOG_IDENTIFIER: the tag, else the name, else the short id. */
        ident = opts->tag ? opts->tag : opts->name;
        f->cid_full = field("CONTAINER_ID_FULL", opts->cid, strlen(opts->cid));
        f->cid_short = field("CONTAINER_ID", opts->cid, SHORT_ID_LEN);
        f->identifier = ident ? field("SYSLOG_IDENTIFIER", ident, strlen(ident))
                              : field("SYSLOG_IDENTIFIER", opts->cid, SHORT_ID_LEN);
        if (opts->tag)
                f->tag = field("CONTAINER_TAG", opts->tag, strlen(opts->tag));
        if (opts->name)
                f->name = field("CONTAINER_NAME", opts->name, strlen(opts->name));
        if (!f->cid_full || !f->cid_short || !f->identifier || (opts->tag && !f->tag) ||
            (opts->name && !f->name))
                goto oom;

        if (opts->labels) {
                while (opts->labels[n])
                        n++;
                f->labels = calloc(n + 1, sizeof(char *));
                if (!f->labels)
                        goto oom;
                for (size_t i = 0; i < n; i++)
                        if (!(f->labels[i] = strdup(opts->labels[i])))
                                goto oom;
        }
        return 0;
oom:
        kc_journald_fields_done(f);
        return -ENOMEM;
}

void kc_journald_fields_done(KcJournaldFields *f) {
        free(f->cid_full);
        free(f->cid_short);
        free(f->tag);
        free(f->name);
        free(f->identifier);
        if (f->labels)
                for (size_t i = 0; f->labels[i]; i++)
                        free(f->labels[i]);
        free(f->labels);
        *f = (KcJournaldFields){};
}

int kc_journald_parse_priority(const char *msg, size_t len, size_t *ret_skip) {
        if (len < 3 || msg[0] != '<' || msg[1] < '0' || msg[1] > '7' || msg[2] != '>') {
                *ret_skip = 0;
                return -1;
        }
        *ret_skip = 3;
        return msg[1] - '0';
}

size_t kc_journald_build_fields(const KcJournaldFields *f, KcStream stream, const char *msg, size_t len,
                                bool partial, bool parse_prefix, char *msg_field, size_t msg_field_size,
                                struct iovec *iov, size_t n_max) {
        int priority = stream == KC_STREAM_STDERR ? 3 : 6;
        size_t skip = 0, n = 0, n_labels = 0;

        if (parse_prefix) {
                int p = kc_journald_parse_priority(msg, len, &skip);
                if (p >= 0)
                        priority = p;
        }
        msg += skip;
        len -= skip;

        if (f->labels)
                while (f->labels[n_labels])
                        n_labels++;
        if (msg_field_size < len + 8 || n_max < KC_JOURNALD_FIXED_FIELDS + n_labels)
                return 0;

        memcpy(msg_field, "MESSAGE=", 8);
        memcpy(msg_field + 8, msg, len);

#define ADD(p, l) iov[n++] = (struct iovec){.iov_base = (void *) (p), .iov_len = (l)}
        ADD(msg_field, len + 8);
        ADD(f->cid_full, strlen(f->cid_full));
        ADD(priority_fields[priority], strlen(priority_fields[priority]));
        ADD(f->cid_short, strlen(f->cid_short));
        if (f->tag)
                ADD(f->tag, strlen(f->tag));
        if (f->name)
                ADD(f->name, strlen(f->name));
        ADD(f->identifier, strlen(f->identifier));
        if (partial && !f->no_partial)
                ADD("CONTAINER_PARTIAL_MESSAGE=true", strlen("CONTAINER_PARTIAL_MESSAGE=true"));
        for (size_t i = 0; i < n_labels; i++)
                ADD(f->labels[i], strlen(f->labels[i]));
#undef ADD
        return n;
}

int kc_journald_check_labels(char *const *labels, char **ret_error) {
        for (size_t i = 0; labels && labels[i]; i++) {
                const char *l = labels[i], *eq = strchr(l, '=');

                if (l[0] == '=')
                        return kc_log_usage_error(
                                ret_error,
                                "Container labels must be in format LABEL=VALUE (no LABEL present in '%s')",
                                l);
                if (!eq || strchr(eq + 1, '='))
                        return kc_log_usage_error(ret_error,
                                    "Container labels must be in format LABEL=VALUE (none or more than one "
                                    "'=' present in '%s')",
                                    l);
                for (const char *c = l; c < eq; c++)
                        if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
                                return kc_log_usage_error(ret_error,
                                            "Container label names must contain only uppercase letters, "
                                            "numbers and underscore (in '%s')",
                                            l);
        }
        return 0;
}
