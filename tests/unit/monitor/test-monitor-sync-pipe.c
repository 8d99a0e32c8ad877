/* Unit tests: sync-pipe JSON messages, escaping, and one write per message. */
#include <errno.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sync-pipe.h"

static void test_escape(void) {
        const char in[] = "a\\b\"c/d\ne\rf\tg\bh\fi\x01j\x1fk\xc3\xa9";
        g_autofree char *out = kc_json_escape(in, sizeof(in) - 1);

        g_assert_cmpstr(out, ==, "a\\\\b\\\"c/d\\ne\\rf\\tg\\bh\\fi\\u0001j\\u001fk\xc3\xa9");
}

static void test_format(void) {
        g_autofree char *a = kc_sync_format("pid", 42, NULL);
        g_autofree char *b = kc_sync_format("data", -1, "command timed out");
        g_autofree char *c = kc_sync_format("exit_code", -1, "x \"y\"\n");

        g_assert_cmpstr(a, ==, "{\"pid\": 42}\n");
        g_assert_cmpstr(b, ==, "{\"data\": -1, \"message\": \"command timed out\"}\n");
        g_assert_cmpstr(c, ==, "{\"exit_code\": -1, \"message\": \"x \\\"y\\\"\\n\"}\n");
}

static void test_format_is_json(void) {
        /* Whatever bytes the runtime printed, the message must decode back to them. */
        char raw[256];
        for (int i = 0; i < 255; i++)
                raw[i] = (char) (i + 1);
        raw[255] = '\0';
        /* keep it valid UTF-8 for the decoder: only ASCII */
        raw[127] = '\0';
        g_autofree char *msg = kc_sync_format("pid", -1, raw);
        g_autoptr(JsonParser) p = json_parser_new();
        g_autoptr(GError) err = NULL;

        g_assert_true(json_parser_load_from_data(p, msg, -1, &err));
        JsonObject *o = json_node_get_object(json_parser_get_root(p));
        g_assert_cmpint(json_object_get_int_member(o, "pid"), ==, -1);
        g_assert_cmpstr(json_object_get_string_member(o, "message"), ==, raw);
}

static void test_keys(void) {
        g_assert_cmpstr(kc_sync_key(true, false), ==, "data");
        g_assert_cmpstr(kc_sync_key(true, true), ==, "data");
        g_assert_cmpstr(kc_sync_key(false, true), ==, "exit_code");
        g_assert_cmpstr(kc_sync_key(false, false), ==, "pid");
}

static void test_send_one_packet(void) {
        int sp[2];
        char buf[256];
        int fd;

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), ==, 0);
        fd = sp[0];
        g_assert_cmpint(kc_sync_send(&fd, "data", 7, "m"), ==, 0);
        g_assert_cmpint(kc_sync_send(&fd, "data", 8, NULL), ==, 0);
        ssize_t n = recv(sp[1], buf, sizeof(buf), 0);
        g_assert_cmpint(n, ==, (ssize_t) strlen("{\"data\": 7, \"message\": \"m\"}\n"));
        n = recv(sp[1], buf, sizeof(buf), 0);
        g_assert_cmpint(n, ==, (ssize_t) strlen("{\"data\": 8}\n"));
        g_assert_cmpint(memcmp(buf, "{\"data\": 8}\n", n), ==, 0);

        /* A peer that went away: no SIGPIPE death, the fd is closed and later sends are no-ops. */
        close(sp[1]);
        g_assert_cmpint(kc_sync_send(&fd, "data", 9, NULL), ==, -EPIPE);
        g_assert_cmpint(fd, ==, -1);
        g_assert_cmpint(kc_sync_send(&fd, "data", 9, NULL), ==, 0);
}

static void test_fd_from_env(void) {
        g_setenv("KC_TEST_PIPE", "12x", TRUE);
        g_assert_cmpint(kc_sync_fd_from_env("KC_TEST_PIPE"), ==, -EINVAL);
        g_setenv("KC_TEST_PIPE", "", TRUE);
        g_assert_cmpint(kc_sync_fd_from_env("KC_TEST_PIPE"), ==, -EINVAL);
        g_unsetenv("KC_TEST_PIPE");
        g_assert_cmpint(kc_sync_fd_from_env("KC_TEST_PIPE"), ==, -ENOENT);
        int fd = dup(2);
        g_autofree char *s = g_strdup_printf("%d", fd);
        g_setenv("KC_TEST_PIPE", s, TRUE);
        g_assert_cmpint(kc_sync_fd_from_env("KC_TEST_PIPE"), ==, fd);
        close(fd);
}

int main(int argc, char **argv) {
        signal(SIGPIPE, SIG_IGN);
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/monitor/sync-pipe/escape", test_escape);
        g_test_add_func("/monitor/sync-pipe/format", test_format);
        g_test_add_func("/monitor/sync-pipe/format-is-json", test_format_is_json);
        g_test_add_func("/monitor/sync-pipe/keys", test_keys);
        g_test_add_func("/monitor/sync-pipe/send-one-packet", test_send_one_packet);
        g_test_add_func("/monitor/sync-pipe/fd-from-env", test_fd_from_env);
        return g_test_run();
}
