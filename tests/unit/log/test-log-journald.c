/* Unit tests for the journald driver: field vectors, priorities, partial-line buffering. */
#include <glib.h>
#include <string.h>

#include "config.h"
#include "log-internal.h"

#define CID "0123456789abcdef0123456789abcdef"

static char *join_fields(const struct iovec *iov, size_t n) {
        GString *s = g_string_new(NULL);

        for (size_t i = 0; i < n; i++) {
                g_string_append_len(s, iov[i].iov_base, (gssize) iov[i].iov_len);
                g_string_append_c(s, '|');
        }
        return g_string_free(s, FALSE);
}

static char *build(const KcLogOptions *o, KcStream stream, const char *msg, bool partial, bool parse) {
        KcJournaldFields f;
        char field[256];
        struct iovec iov[16];
        size_t n;

        g_assert_cmpint(kc_journald_fields_init(&f, o), ==, 0);
        n = kc_journald_build_fields(&f, stream, msg, strlen(msg), partial, parse, field, sizeof(field), iov,
                                     G_N_ELEMENTS(iov));
        g_assert_cmpuint(n, >, 0);
        char *s = join_fields(iov, n);
        kc_journald_fields_done(&f);
        return s;
}

static void test_fields(void) {
        char *labels[] = {"APP=web", "TEAM=x", NULL};
        KcLogOptions o = {.cid = CID};
        g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

        a = build(&o, KC_STREAM_STDOUT, "hello\n", false, true);
        g_assert_cmpstr(a, ==,
                        "MESSAGE=hello\n|CONTAINER_ID_FULL=" CID "|PRIORITY=6|CONTAINER_ID=0123456789ab|"
                        "SYSLOG_IDENTIFIER=0123456789ab|");

        o.name = "web-1";
        b = build(&o, KC_STREAM_STDERR, "oops\n", false, true);
        g_assert_cmpstr(b, ==,
                        "MESSAGE=oops\n|CONTAINER_ID_FULL=" CID "|PRIORITY=3|CONTAINER_ID=0123456789ab|"
                        "CONTAINER_NAME=web-1|SYSLOG_IDENTIFIER=web-1|");

        o.tag = "mytag";
        o.labels = labels;
        c = build(&o, KC_STREAM_STDOUT, "<4>warn\n", true, true);
        g_assert_cmpstr(c, ==,
                        "MESSAGE=warn\n|CONTAINER_ID_FULL=" CID "|PRIORITY=4|CONTAINER_ID=0123456789ab|"
                        "CONTAINER_TAG=mytag|CONTAINER_NAME=web-1|SYSLOG_IDENTIFIER=mytag|"
                        "CONTAINER_PARTIAL_MESSAGE=true|APP=web|TEAM=x|");

        /* No prefix parsing in the middle of a line; <8> is not a priority. */
        o.labels = NULL;
        o.no_partial_message = true;
        d = build(&o, KC_STREAM_STDERR, "<4>x", true, false);
        g_assert_cmpstr(d, ==,
                        "MESSAGE=<4>x|CONTAINER_ID_FULL=" CID "|PRIORITY=3|CONTAINER_ID=0123456789ab|"
                        "CONTAINER_TAG=mytag|CONTAINER_NAME=web-1|SYSLOG_IDENTIFIER=mytag|");
        e = build(&o, KC_STREAM_STDOUT, "<8>x\n", false, true);
        g_assert_true(g_str_has_prefix(e, "MESSAGE=<8>x\n|CONTAINER_ID_FULL=" CID "|PRIORITY=6|"));
}

static void test_priority(void) {
        size_t skip = 99;

        g_assert_cmpint(kc_journald_parse_priority("<0>a", 4, &skip), ==, 0);
        g_assert_cmpuint(skip, ==, 3);
        g_assert_cmpint(kc_journald_parse_priority("<7>", 3, &skip), ==, 7);
        g_assert_cmpint(kc_journald_parse_priority("<8>a", 4, &skip), ==, -1);
        g_assert_cmpuint(skip, ==, 0);
        g_assert_cmpint(kc_journald_parse_priority("<5", 2, &skip), ==, -1);
        g_assert_cmpint(kc_journald_parse_priority("5>a", 3, &skip), ==, -1);
        g_assert_cmpint(kc_journald_parse_priority("<a>a", 4, &skip), ==, -1);
}

static void test_labels(void) {
        char *ok[] = {"A=1", "B_2=", "Z9=a b", NULL};
        g_autofree char *err = NULL;

        g_assert_cmpint(kc_journald_check_labels(NULL, NULL), ==, 0);
        g_assert_cmpint(kc_journald_check_labels(ok, &err), ==, 0);
        g_assert_null(err);
        char *bad[] = {"a=1", NULL};
        g_assert_cmpint(kc_journald_check_labels(bad, &err), ==, -EINVAL);
        g_assert_cmpstr(err, ==,
                        "Container label names must contain only uppercase letters, numbers and underscore "
                        "(in 'a=1')");
}

static void test_short_id(void) {
        KcLogOptions o = {.cid = "0123456789ab"};
        KcJournaldFields f;

        g_assert_cmpint(kc_journald_fields_init(&f, &o), ==, -EINVAL);
        o.cid = NULL;
        g_assert_cmpint(kc_journald_fields_init(&f, &o), ==, -EINVAL);
}

#if HAVE_JOURNALD
static GPtrArray *sent;

static int record_send(const struct iovec *iov, int n, void *userdata) {
        g_ptr_array_add(sent, join_fields(iov, (size_t) n));
        return 0;
}

static const char *msg_of(guint i) {
        static char buf[70000];
        const char *s = g_ptr_array_index(sent, i);
        const char *bar = strchr(s, '|');
        g_assert_nonnull(bar);
        g_strlcpy(buf, s, MIN((size_t) (bar - s) + 1, sizeof(buf)));
        return buf;
}

static bool is_partial(guint i) {
        return strstr(g_ptr_array_index(sent, i), "CONTAINER_PARTIAL_MESSAGE=true") != NULL;
}

static bool has(guint i, const char *field) {
        g_autofree char *needle = g_strconcat("|", field, "|", NULL);
        return strstr(g_ptr_array_index(sent, i), needle) != NULL;
}

static KcJournaldLog *new_log(bool no_partial) {
        KcLogOptions o = {.cid = CID, .no_partial_message = no_partial};
        KcJournaldLog *j = NULL;

        g_assert_cmpint(kc_journald_log_new(&o, &j), ==, 0);
        kc_journald_log_set_sender(j, record_send, NULL);
        if (sent)
                g_ptr_array_unref(sent);
        sent = g_ptr_array_new_with_free_func(g_free);
        return j;
}

static void wr(KcJournaldLog *j, KcStream s, const char *t) {
        kc_journald_log_write(j, s, t, strlen(t));
}

static void test_driver_lines(void) {
        KcJournaldLog *j = new_log(false);

        wr(j, KC_STREAM_STDOUT, "one\ntw");
        wr(j, KC_STREAM_STDERR, "<4>err");
        wr(j, KC_STREAM_STDOUT, "o\n<1>three\nfour");
        wr(j, KC_STREAM_STDERR, "!\n");
        g_assert_cmpuint(sent->len, ==, 4);
        g_assert_cmpstr(msg_of(0), ==, "MESSAGE=one\n");
        g_assert_cmpstr(msg_of(1), ==, "MESSAGE=two\n");
        g_assert_false(is_partial(1));
        g_assert_cmpstr(msg_of(2), ==, "MESSAGE=three\n");
        g_assert_true(has(2, "PRIORITY=1"));
        /* The fragment started with <4>, but conmon only parses a prefix with nothing buffered. */
        g_assert_cmpstr(msg_of(3), ==, "MESSAGE=<4>err!\n");
        g_assert_true(has(3, "PRIORITY=3"));

        kc_journald_log_flush(j);
        g_assert_cmpuint(sent->len, ==, 5);
        g_assert_cmpstr(msg_of(4), ==, "MESSAGE=four");
        g_assert_true(is_partial(4));
        g_assert_true(has(4, "PRIORITY=6"));
        kc_journald_log_flush(j);
        g_assert_cmpuint(sent->len, ==, 5);
        kc_journald_log_free(j);
}

/* conmon's test: 65535 bytes without a newline end up as partial records. */
static void test_driver_long(void) {
        KcJournaldLog *j = new_log(false);
        char chunk[KC_LOG_LINE_MAX];
        size_t total = 0, left = 65535;

        memset(chunk, '#', sizeof(chunk));
        while (left > 0) {
                size_t n = MIN(left, sizeof(chunk));
                kc_journald_log_write(j, KC_STREAM_STDOUT, chunk, n);
                left -= n;
        }
        kc_journald_log_flush(j);
        g_assert_cmpuint(sent->len, >=, 7);
        for (guint i = 0; i < sent->len; i++) {
                size_t len = strlen(msg_of(i)) - strlen("MESSAGE=");
                g_assert_true(is_partial(i));
                g_assert_cmpuint(len, <=, 2 * KC_LOG_LINE_MAX);
                total += len;
        }
        g_assert_cmpuint(total, ==, 65535);
        kc_journald_log_free(j);

        /* --no-container-partial-message drops the field, not the record. */
        j = new_log(true);
        kc_journald_log_write(j, KC_STREAM_STDOUT, chunk, sizeof(chunk));
        kc_journald_log_flush(j);
        g_assert_cmpuint(sent->len, ==, 1);
        g_assert_false(is_partial(0));
        kc_journald_log_free(j);
        g_ptr_array_unref(sent);
        sent = NULL;
}
#endif

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/log/journald/fields", test_fields);
        g_test_add_func("/log/journald/priority", test_priority);
        g_test_add_func("/log/journald/labels", test_labels);
        g_test_add_func("/log/journald/short-id", test_short_id);
#if HAVE_JOURNALD
        g_test_add_func("/log/journald/driver-lines", test_driver_lines);
        g_test_add_func("/log/journald/driver-long", test_driver_long);
#endif
        return g_test_run();
}
