/* Unit tests for protocol messages: bounded JSON, strict getters, ids, replies, exit statuses. */
#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <string.h>

#include "message.h"

static JsonObject *parse(const char *text) {
        JsonObject *o = NULL;
        g_assert_cmpint(kc_json_parse_object(text, strlen(text), &o), ==, 0);
        return o;
}

static int parse_r(const char *text, size_t len) {
        g_autoptr(JsonObject) o = NULL;
        return kc_json_parse_object(text, len, &o);
}

static void test_ids(void) {
        g_autofree char *max = g_strnfill(128, 'a'), *over = g_strnfill(129, 'a');

        g_assert_true(kc_id_is_valid("abc"));
        g_assert_true(kc_id_is_valid("A-z_0.9"));
        g_assert_true(kc_id_is_valid(max));
        g_assert_false(kc_id_is_valid(over));
        g_assert_false(kc_id_is_valid(""));
        g_assert_false(kc_id_is_valid(NULL));
        g_assert_false(kc_id_is_valid("."));
        g_assert_false(kc_id_is_valid(".."));
        g_assert_false(kc_id_is_valid("a/b"));
        g_assert_false(kc_id_is_valid("../x"));
        g_assert_false(kc_id_is_valid("a b"));
        g_assert_false(kc_id_is_valid("é"));
}

static void test_bad_json(void) {
        g_autoptr(GString) deep = g_string_new(NULL);
        g_autoptr(GString) wide = g_string_new("{\"a\":[");

        g_assert_cmpint(parse_r("", 0), ==, -EBADMSG);
        g_assert_cmpint(parse_r("[]", 2), ==, -EBADMSG); /* not an object */
        g_assert_cmpint(parse_r("\"x\"", 3), ==, -EBADMSG);
        g_assert_cmpint(parse_r("{", 1), ==, -EBADMSG); /* truncated */
        g_assert_cmpint(parse_r("{\"a\":}", 6), ==, -EBADMSG);
        g_assert_cmpint(parse_r("{}}", 3), ==, -EBADMSG);
        g_assert_cmpint(parse_r("{\"a\":\"\xff\"}", 8), ==, -EBADMSG); /* not UTF-8 */
        g_assert_cmpint(parse_r("{\"a\":1}\0{}", 10), ==, -EBADMSG);   /* NUL inside */
        g_assert_cmpint(parse_r("{\"a\":\"]]]\"}", 11), ==, 0);        /* brackets in strings do not count */
        g_assert_cmpint(parse_r("{\"a\":\"\\\"]\"}", 11), ==, 0);

        /* Deep nesting is refused before json-glib recurses into it. */
        g_string_append(deep, "{\"a\":");
        for (int i = 0; i < 100000; i++)
                g_string_append_c(deep, '[');
        g_assert_cmpint(parse_r(deep->str, deep->len), ==, -E2BIG);
        g_string_truncate(deep, 0);
        g_string_append(deep, "{\"a\":");
        for (int i = 0; i < KC_JSON_MAX_DEPTH - 1; i++)
                g_string_append_c(deep, '[');
        for (int i = 0; i < KC_JSON_MAX_DEPTH - 1; i++)
                g_string_append_c(deep, ']');
        g_string_append_c(deep, '}');
        g_assert_cmpint(parse_r(deep->str, deep->len), ==, 0);

        for (int i = 0; i < KC_JSON_MAX_MEMBERS + 1; i++)
                g_string_append(wide, i ? ",1" : "1");
        g_string_append(wide, "]}");
        g_assert_cmpint(parse_r(wide->str, wide->len), ==, -E2BIG);
}

static void test_getters(void) {
        g_autoptr(JsonObject) o = parse("{\"s\":\"str\",\"i\":42,\"f\":4.5,\"b\":true,\"n\":null,\"o\":{},"
                                        "\"a\":[1,2],\"is\":\"42\",\"id\":\"../x\",\"big\":99999999999}");
        const char *s = "unset";
        int64_t i = -7;
        bool b = false;
        JsonObject *obj = NULL;
        JsonArray *arr = NULL;

        g_assert_cmpint(kc_json_get_string(o, "s", 16, true, &s), ==, 0);
        g_assert_cmpstr(s, ==, "str");
        g_assert_cmpint(kc_json_get_string(o, "s", 2, true, &s), ==, -EINVAL);  /* too long */
        g_assert_cmpint(kc_json_get_string(o, "i", 16, true, &s), ==, -EINVAL); /* wrong type */
        g_assert_cmpint(kc_json_get_string(o, "missing", 16, true, &s), ==, -ENOENT);
        s = "default";
        g_assert_cmpint(kc_json_get_string(o, "missing", 16, false, &s), ==, 0);
        g_assert_cmpstr(s, ==, "default");
        g_assert_cmpint(kc_json_get_string(o, "n", 16, false, &s), ==, 0); /* null reads as absent */

        g_assert_cmpint(kc_json_get_int(o, "i", 0, 100, true, &i), ==, 0);
        g_assert_cmpint(i, ==, 42);
        g_assert_cmpint(kc_json_get_int(o, "i", 0, 41, true, &i), ==, -EINVAL);
        g_assert_cmpint(kc_json_get_int(o, "f", 0, 100, true, &i), ==, -EINVAL);  /* no fractions */
        g_assert_cmpint(kc_json_get_int(o, "is", 0, 100, true, &i), ==, -EINVAL); /* no numeric strings */
        g_assert_cmpint(kc_json_get_int(o, "b", 0, 100, true, &i), ==, -EINVAL);
        g_assert_cmpint(kc_json_get_int(o, "big", 0, INT32_MAX, true, &i), ==, -EINVAL);

        g_assert_cmpint(kc_json_get_bool(o, "b", true, &b), ==, 0);
        g_assert_true(b);
        g_assert_cmpint(kc_json_get_bool(o, "i", true, &b), ==, -EINVAL);
        g_assert_cmpint(kc_json_get_object(o, "o", true, &obj), ==, 0);
        g_assert_cmpint(kc_json_get_object(o, "a", true, &obj), ==, -EINVAL);
        g_assert_cmpint(kc_json_get_array(o, "a", 2, true, &arr), ==, 0);
        g_assert_cmpint(kc_json_get_array(o, "a", 1, true, &arr), ==, -EINVAL);
        g_assert_cmpint(kc_json_get_id(o, "s", true, &s), ==, 0);
        g_assert_cmpint(kc_json_get_id(o, "id", true, &s), ==, -EINVAL);
}

static void test_replies(void) {
        g_autoptr(JsonObject) ok = kc_reply_new_ok();
        g_autoptr(JsonObject) err = kc_reply_new_error(-ENOENT, "no such container: %s", "web");
        g_autoptr(JsonObject) weird = kc_reply_new_error(100000, "x");
        const char *msg = NULL;
        g_autoptr(GByteArray) b = g_byte_array_new();

        g_assert_cmpint(kc_reply_parse(ok, &msg), ==, 0);
        g_assert_cmpint(kc_reply_parse(err, &msg), ==, -ENOENT);
        g_assert_cmpstr(msg, ==, "no such container: web");
        g_assert_cmpint(kc_reply_parse(weird, NULL), ==, -EIO);

        {
                g_autoptr(JsonObject) o = parse("{\"ok\":\"yes\"}");
                g_assert_cmpint(kc_reply_parse(o, NULL), ==, -EBADMSG);
        }
        {
                g_autoptr(JsonObject) o = parse("{\"ok\":false,\"errno\":0}");
                g_assert_cmpint(kc_reply_parse(o, NULL), ==, -EBADMSG);
        }
        {
                g_autoptr(JsonObject) o = parse("{\"ok\":false,\"errno\":99999}");
                g_assert_cmpint(kc_reply_parse(o, NULL), ==, -EBADMSG);
        }
        {
                g_autoptr(JsonObject) o = parse("{\"ok\":false,\"errno\":5,\"message\":7}");
                g_assert_cmpint(kc_reply_parse(o, NULL), ==, -EBADMSG);
        }
        g_assert_cmpint(kc_json_append_frame(b, 2, 9, err), ==, 0);
        g_assert_cmpuint(b->len, >, 12);
}

static void test_hello(void) {
        KcHello h;
        {
                g_autoptr(JsonObject) o =
                        parse("{\"type\":\"hello\",\"protocol\":1,\"agent-version\":\"0.1\","
                              "\"kernel\":\"6.1.0\"}");
                g_assert_cmpint(kc_event_parse_hello(o, &h), ==, 0);
                g_assert_cmpint(h.protocol, ==, 1);
                g_assert_cmpstr(h.kernel, ==, "6.1.0");
        }
        {
                g_autoptr(JsonObject) o =
                        parse("{\"type\":\"hello\",\"protocol\":\"1\",\"agent-version\":\"0.1\","
                              "\"kernel\":\"6.1.0\"}");
                g_assert_cmpint(kc_event_parse_hello(o, &h), ==, -EBADMSG);
        }
        {
                g_autofree char *long_kernel = g_strnfill(300, 'k');
                g_autofree char *text = g_strdup_printf(
                        "{\"type\":\"hello\",\"protocol\":1,\"agent-version\":\"0.1\",\"kernel\":\"%s\"}",
                        long_kernel);
                g_autoptr(JsonObject) o = parse(text);
                g_assert_cmpint(kc_event_parse_hello(o, &h), ==, -EBADMSG);
        }
}

static void test_exit_status(void) {
        KcExitStatus st;
        g_autoptr(JsonObject) built = json_object_new();

        {
                g_autoptr(JsonObject) o = parse("{\"container-id\":\"c\",\"pid\":5,\"exit-code\":42}");
                g_assert_cmpint(kc_exit_status_parse(o, true, &st), ==, 0);
                g_assert_cmpint(kc_exit_status_code(&st), ==, 42);
                g_assert_null(st.exec_id);
        }
        {
                g_autoptr(JsonObject) o = parse("{\"container-id\":\"c\",\"exec-id\":\"e\",\"signal\":9}");
                g_assert_cmpint(kc_exit_status_parse(o, true, &st), ==, 0);
                g_assert_cmpint(kc_exit_status_code(&st), ==, 137);
                g_assert_cmpstr(st.exec_id, ==, "e");
        }
        {
                /* Both, neither, out of range, bad ids: all refused. */
                const char *bad[] = {
                        "{\"container-id\":\"c\",\"exit-code\":0,\"signal\":9}",
                        "{\"container-id\":\"c\"}",
                        "{\"container-id\":\"c\",\"exit-code\":256}",
                        "{\"container-id\":\"c\",\"signal\":65}",
                        "{\"container-id\":\"c/..\",\"exit-code\":0}",
                        "{\"exit-code\":0}",
                };
                for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                        g_autoptr(JsonObject) o = parse(bad[i]);
                        g_assert_cmpint(kc_exit_status_parse(o, true, &st), ==, -EBADMSG);
                }
        }
        json_object_set_string_member(built, "container-id", "c");
        kc_exit_status_to_json(built, SIGTERM); /* a wait status for "killed by SIGTERM" */
        g_assert_cmpint(kc_exit_status_parse(built, true, &st), ==, 0);
        g_assert_cmpint(st.signal, ==, SIGTERM);
        json_object_remove_member(built, "signal");
        kc_exit_status_to_json(built, 3 << 8);
        g_assert_cmpint(kc_exit_status_parse(built, true, &st), ==, 0);
        g_assert_cmpint(st.exit_code, ==, 3);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/message/ids", test_ids);
        g_test_add_func("/message/bad-json", test_bad_json);
        g_test_add_func("/message/getters", test_getters);
        g_test_add_func("/message/replies", test_replies);
        g_test_add_func("/message/hello", test_hello);
        g_test_add_func("/message/exit-status", test_exit_status);
        return g_test_run();
}
