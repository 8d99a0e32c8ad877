/* Unit tests for the typed request builders and reply/event parsers. */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "requests.h"
#include "resources.h"

static JsonObject *parse(const char *text) {
        JsonObject *o = NULL;
        g_assert_cmpint(kc_json_parse_object(text, strlen(text), &o), ==, 0);
        return o;
}

static char *to_text(JsonObject *o) {
        g_autoptr(JsonNode) n = json_node_init_object(json_node_alloc(), o);
        return json_to_string(n, false);
}

static void test_builders(void) {
        const char *dns[] = {"nameserver 10.0.0.1", "search svc.cluster.local", NULL};
        const char *bad_dns[] = {"nameserver 1.1.1.1\nnameserver 6.6.6.6", NULL};
        g_autoptr(JsonObject) spec = parse("{\"process\":{\"args\":[\"sh\"]}}");
        g_autoptr(JsonObject) sb = NULL, cc = NULL, ex = NULL, sig = NULL, rs = NULL, rm = NULL, w = NULL;
        g_autofree char *t1 = NULL, *t2 = NULL, *t3 = NULL;
        JsonObject *junk = NULL;

        g_assert_cmpint(kc_request_create_sandbox("pod", dns, "virtio-fs", NULL, &sb), ==, 0);
        t1 = to_text(sb);
        g_assert_cmpstr(
                t1, ==,
                "{\"type\":\"create-sandbox\",\"hostname\":\"pod\",\"dns\":[\"nameserver 10.0.0.1\","
                "\"search "
                "svc.cluster.local\"],\"shared-fs\":{\"type\":\"virtio-fs\",\"tag\":\"kataShared\"}}");
        g_assert_cmpint(kc_request_create_sandbox("pod", bad_dns, NULL, NULL, &junk), ==, -EINVAL);
        g_assert_cmpint(kc_request_create_sandbox("pod", NULL, "nfs", NULL, &junk), ==, -EINVAL);

        g_assert_cmpint(kc_request_create_container("c1", spec, false, 0, 1, 2, &cc), ==, 0);
        t2 = to_text(cc);
        g_assert_cmpstr(
                t2, ==,
                "{\"type\":\"create-container\",\"container-id\":\"c1\",\"spec\":{\"process\":{\"args\":"
                "[\"sh\"]}},\"tty\":false,\"stdin\":0,\"stdout\":1,\"stderr\":2}");
        /* The spec is copied: changing ours later does not change the request. */
        json_object_set_string_member(spec, "late", "x");
        g_assert_false(json_object_has_member(json_object_get_object_member(cc, "spec"), "late"));
        g_assert_cmpint(kc_request_create_container("../c1", spec, false, 0, 1, 2, &junk), ==, -EINVAL);
        g_assert_cmpint(kc_request_create_container("c1", spec, false, 1, 1, 2, &junk), ==, -EINVAL);
        g_assert_cmpint(kc_request_create_container("c1", spec, false, 0, 0x80000000u, 2, &junk), ==,
                        -EINVAL);
        g_assert_cmpint(kc_request_create_container("c1", NULL, false, 0, 1, 2, &junk), ==, -EINVAL);

        g_assert_cmpint(kc_request_exec("c1", "e1", spec, true, 3, 4, 4, &ex), ==, 0); /* tty: no stderr */
        g_assert_cmpint(json_object_get_int_member(ex, "stderr"), ==, 0);
        g_assert_cmpint(kc_request_exec("c1", "e/1", spec, false, 3, 4, 5, &junk), ==, -EINVAL);

        g_assert_cmpint(kc_request_signal("c1", NULL, 9, true, &sig), ==, 0);
        t3 = to_text(sig);
        g_assert_cmpstr(t3, ==, "{\"type\":\"signal\",\"container-id\":\"c1\",\"signal\":9,\"all\":true}");
        g_assert_cmpint(kc_request_signal("c1", NULL, 0, false, &junk), ==, -EINVAL);
        g_assert_cmpint(kc_request_signal("c1", NULL, 65, false, &junk), ==, -EINVAL);
        g_assert_cmpint(kc_request_resize("c1", "e1", 24, 80, &rs), ==, 0);
        g_assert_cmpstr(json_object_get_string_member(rs, "exec-id"), ==, "e1");
        g_assert_cmpint(kc_request_resize("c1", NULL, 0, 80, &junk), ==, -EINVAL);
        g_assert_cmpint(kc_request_resize("c1", NULL, 24, 70000, &junk), ==, -EINVAL);
        g_assert_cmpint(kc_request_remove_container("c1", true, &rm), ==, 0);
        g_assert_true(json_object_get_boolean_member(rm, "force"));
        g_assert_cmpint(kc_request_for_process("wait", "c1", "e1", &w), ==, 0);
        g_assert_cmpint(kc_request_for_process("destroy-sandbox", "c1", NULL, &junk), ==, -EINVAL);
        g_assert_cmpint(kc_request_for_process("stats", "c1", "e1", &junk), ==, -EINVAL);
        g_assert_null(junk);
}

static void test_parsers(void) {
        g_autoptr(JsonObject) pid = parse("{\"ok\":true,\"pid\":42}");
        g_autoptr(JsonObject) bad_pid = parse("{\"ok\":true,\"pid\":-1}");
        g_autoptr(JsonObject) state = parse("{\"ok\":true,\"status\":\"running\",\"pid\":7}");
        g_autoptr(JsonObject) bad_state = parse("{\"ok\":true,\"status\":\"paused\",\"pid\":7}");
        g_autoptr(JsonObject) stats =
                parse("{\"ok\":true,\"memory-usage\":1,\"memory-limit\":0,\"memory-max-usage\":2,"
                      "\"cpu-usage-usec\":3,\"cpu-user-usec\":4,\"cpu-system-usec\":5,\"pids\":6}");
        g_autoptr(JsonObject) bad_stats = parse("{\"ok\":true,\"memory-usage\":-1}");
        g_autoptr(JsonObject) oom = parse("{\"type\":\"oom\",\"container-id\":\"c1\"}");
        g_autoptr(JsonObject) bad_oom = parse("{\"type\":\"oom\",\"container-id\":\"/etc\"}");
        KcProcessStatus st;
        KcStats s;
        int64_t p = 0;
        const char *id = NULL;

        g_assert_cmpint(kc_reply_get_pid(pid, &p), ==, 0);
        g_assert_cmpint(p, ==, 42);
        g_assert_cmpint(kc_reply_get_pid(bad_pid, &p), ==, -EBADMSG);
        g_assert_cmpint(kc_reply_get_state(state, &st, &p), ==, 0);
        g_assert_cmpint(st, ==, KC_STATUS_RUNNING);
        g_assert_cmpint(p, ==, 7);
        g_assert_cmpint(kc_reply_get_state(bad_state, &st, &p), ==, -EBADMSG);
        g_assert_cmpint(kc_reply_get_stats(stats, &s), ==, 0);
        g_assert_cmpint(s.pids, ==, 6);
        g_assert_cmpint(s.cpu_system_usec, ==, 5);
        g_assert_cmpint(kc_reply_get_stats(bad_stats, &s), ==, -EBADMSG);
        g_assert_cmpint(kc_event_get_oom(oom, &id), ==, 0);
        g_assert_cmpstr(id, ==, "c1");
        g_assert_cmpint(kc_event_get_oom(bad_oom, &id), ==, -EBADMSG);
}

static void test_update_container(void) {
        g_autoptr(JsonObject) res =
                parse("{\"memory\":{\"limit\":268435456,\"swap\":268435456,\"swappiness\":10,"
                      "\"kernel\":-1},\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,"
                      "\"cpus\":\"0-1\"},\"pids\":{\"limit\":100},\"devices\":[],\"blockIO\":{},"
                      "\"unified\":{\"memory.high\":\"200000000\"},\"future\":1}");
        g_autoptr(JsonObject) req = NULL;
        g_autofree char *text = NULL;
        static const char *const bad[] = {
                "{\"memory\":{\"limit\":\"big\"}}",
                "{\"memory\":{\"limit\":-2}}",
                "{\"memory\":{\"swappiness\":101}}",
                "{\"memory\":{\"disableOOMKiller\":1}}",
                "{\"memory\":[]}",
                "{\"cpu\":{\"shares\":262145}}",
                "{\"cpu\":{\"period\":1.5}}",
                "{\"cpu\":{\"cpus\":7}}",
                "{\"pids\":{\"limit\":true}}",
                "{\"devices\":{}}",
                "{\"blockIO\":[]}",
                "{\"unified\":{\"../memory.max\":\"1\"}}",
                "{\"unified\":{\"memory/max\":\"1\"}}",
                "{\"unified\":{\"memorymax\":\"1\"}}",
                "{\"unified\":{\"memory.max\":1}}",
                "{\"unified\":{\"memory.max\":\"1\\n2\"}}",
                "{\"unified\":[]}",
        };

        g_assert_cmpint(kc_request_update_container("c1", res, &req, NULL), ==, 0);
        text = to_text(req);
        /* Only what the guest's cgroup2 applies goes out; known sections are checked, then dropped. */
        g_assert_cmpstr(text, ==,
                        "{\"type\":\"update-container\",\"container-id\":\"c1\",\"resources\":{"
                        "\"memory\":{\"limit\":268435456,\"swap\":268435456},"
                        "\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000},"
                        "\"pids\":{\"limit\":100},\"unified\":{\"memory.high\":\"200000000\"}}}");

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(JsonObject) b = parse(bad[i]);
                g_autofree char *why = NULL;
                JsonObject *junk = NULL;

                g_test_message("bad resources: %s", bad[i]);
                g_assert_cmpint(kc_request_update_container("c1", b, &junk, &why), ==, -EINVAL);
                g_assert_nonnull(why);
                g_assert_null(junk);
        }
        {
                /* Too many unified entries. */
                g_autoptr(JsonObject) big = json_object_new();
                JsonObject *u = json_object_new(), *junk = NULL;
                for (int i = 0; i <= KC_RESOURCES_UNIFIED_MAX; i++) {
                        g_autofree char *k = g_strdup_printf("memory.x%d", i);
                        json_object_set_string_member(u, k, "1");
                }
                json_object_set_object_member(big, "unified", u);
                g_assert_cmpint(kc_request_update_container("c1", big, &junk, NULL), ==, -EINVAL);
        }
        {
                g_autoptr(JsonObject) empty = parse("{}");
                JsonObject *junk = NULL;
                g_assert_cmpint(kc_request_update_container("../c1", empty, &junk, NULL), ==, -EINVAL);
                g_assert_cmpint(kc_request_update_container("c1", NULL, &junk, NULL), ==, -EINVAL);
        }
}

static void test_pause_resume(void) {
        g_autoptr(JsonObject) p = NULL, r = NULL;
        g_autofree char *t1 = NULL, *t2 = NULL;
        JsonObject *junk = NULL;

        g_assert_cmpint(kc_request_for_process("pause-container", "c1", NULL, &p), ==, 0);
        g_assert_cmpint(kc_request_for_process("resume-container", "c1", NULL, &r), ==, 0);
        t1 = to_text(p);
        t2 = to_text(r);
        g_assert_cmpstr(t1, ==, "{\"type\":\"pause-container\",\"container-id\":\"c1\"}");
        g_assert_cmpstr(t2, ==, "{\"type\":\"resume-container\",\"container-id\":\"c1\"}");
        g_assert_cmpint(kc_request_for_process("pause-container", "c1", "e1", &junk), ==, -EINVAL);
        g_assert_cmpint(kc_request_for_process("resume-container", "c1", "e1", &junk), ==, -EINVAL);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/requests/builders", test_builders);
        g_test_add_func("/requests/parsers", test_parsers);
        g_test_add_func("/requests/update-container", test_update_container);
        g_test_add_func("/requests/pause-resume", test_pause_resume);
        return g_test_run();
}
