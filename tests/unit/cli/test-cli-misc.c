/* Unit tests: mountinfo filtering for delete, --log line formats. */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <syslog.h>

#include "cleanup.h"
#include "cli-log.h"

static const char mountinfo[] =
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "40 22 0:5 / /run rw shared:2 - tmpfs tmpfs rw\n"
        "41 40 8:1 /x /run/kc/pod1/shared rw shared:3 - ext4 /dev/sda1 rw\n"
        "42 41 8:1 /y /run/kc/pod1/shared/c1/rootfs rw shared:4 - ext4 /dev/sda1 rw\n"
        "43 41 8:1 /z /run/kc/pod1/shared/c1/with\\040space rw shared:5 - ext4 /dev/sda1 rw\n"
        "44 40 8:1 /w /run/kc/pod10/shared rw shared:6 - ext4 /dev/sda1 rw\n"
        "garbage\n";

static void test_mountinfo_below(void) {
        g_autoptr(GPtrArray) a = kr_mountinfo_below(mountinfo, "/run/kc/pod1");
        g_autoptr(GPtrArray) b = kr_mountinfo_below(mountinfo, "/run/kc/pod1/shared/c1/");
        g_autoptr(GPtrArray) c = kr_mountinfo_below(mountinfo, "/run/kc/none");

        g_assert_cmpuint(a->len, ==, 3);
        /* deepest first, never the sibling "pod10" */
        g_assert_true(strlen(a->pdata[0]) >= strlen(a->pdata[1]));
        g_assert_true(strlen(a->pdata[1]) >= strlen(a->pdata[2]));
        g_assert_cmpstr(a->pdata[2], ==, "/run/kc/pod1/shared");
        for (guint i = 0; i < a->len; i++)
                g_assert_null(strstr(a->pdata[i], "pod10"));

        g_assert_cmpuint(b->len, ==, 2);
        g_assert_true(
                g_ptr_array_find_with_equal_func(b, "/run/kc/pod1/shared/c1/with space", g_str_equal, NULL));
        g_assert_true(
                g_ptr_array_find_with_equal_func(b, "/run/kc/pod1/shared/c1/rootfs", g_str_equal, NULL));
        g_assert_cmpuint(c->len, ==, 0);
}

static void test_log_lines(void) {
        g_autofree char *json =
                kr_log_format_line(KR_LOG_JSON, LOG_ERR, "bad \"thing\"\n", "2026-01-01T00:00:00Z");
        g_autofree char *text = kr_log_format_line(KR_LOG_TEXT, LOG_WARNING, "a \"b\"", "T");
        g_autoptr(JsonParser) p = json_parser_new();
        JsonObject *o;
        KrLogFormat f;

        g_assert_true(g_str_has_suffix(json, "\n"));
        g_assert_null(strchr(json, '\n') == json + strlen(json) - 1 ? NULL : "embedded newline");
        g_assert_true(json_parser_load_from_data(p, json, -1, NULL));
        o = json_node_get_object(json_parser_get_root(p));
        g_assert_cmpstr(json_object_get_string_member(o, "level"), ==, "error");
        g_assert_cmpstr(json_object_get_string_member(o, "msg"), ==, "bad \"thing\"\n");
        g_assert_cmpstr(json_object_get_string_member(o, "time"), ==, "2026-01-01T00:00:00Z");

        g_assert_cmpstr(text, ==, "time=\"T\" level=warning msg=\"a \\\"b\\\"\"\n");

        g_assert_cmpint(kr_log_format_from_string("json", &f), ==, 0);
        g_assert_cmpint(f, ==, KR_LOG_JSON);
        g_assert_cmpint(kr_log_format_from_string("text", &f), ==, 0);
        g_assert_cmpint(f, ==, KR_LOG_TEXT);
        g_assert_cmpint(kr_log_format_from_string("xml", &f), <, 0);
}

static const char *arg0;

static void test_processes(void) {
        g_autofree char *dir = g_dir_make_tmp("kr-misc-XXXXXX", NULL);
        g_autofree char *pf = g_build_filename(dir, "pid", NULL);
        pid_t pid, child;
        int status;

        g_autofree char *arg0_prefix = g_strndup(arg0, strlen(arg0) - 1);

        g_assert_true(kr_pid_cmdline_has(getpid(), arg0));
        g_assert_false(kr_pid_cmdline_has(getpid(), arg0_prefix));
        g_assert_true(kr_pid_comm_is(getpid(), "test-cli-misc"));
        g_assert_false(kr_pid_comm_is(getpid(), "test-cli"));

        g_assert_cmpint(kr_read_pid_file(pf, &pid), ==, -ENOENT);
        g_assert_true(g_file_set_contents(pf, "1234\n", -1, NULL));
        g_assert_cmpint(kr_read_pid_file(pf, &pid), ==, 0);
        g_assert_cmpint(pid, ==, 1234);
        g_assert_true(g_file_set_contents(pf, "12x", -1, NULL));
        g_assert_cmpint(kr_read_pid_file(pf, &pid), ==, -EINVAL);
        g_assert_true(g_file_set_contents(pf, "0", -1, NULL));
        g_assert_cmpint(kr_read_pid_file(pf, &pid), ==, -EINVAL);

        child = fork();
        if (child == 0) {
                pause();
                _exit(0);
        }
        g_assert_cmpint(kr_pid_wait_gone(child, 0, 50), ==, -ETIMEDOUT);
        kill(child, SIGKILL);
        /* a zombie counts as gone */
        g_assert_cmpint(kr_pid_wait_gone(child, 0, 5000), ==, 0);
        g_assert_cmpint(waitpid(child, &status, 0), ==, child);

        g_assert_cmpint(kr_remove_tree("/"), ==, -EINVAL);
        g_assert_cmpint(kr_remove_tree("relative/dir"), ==, -EINVAL);
        g_assert_cmpint(kr_remove_tree(dir), ==, 0);
        g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
        g_assert_cmpint(kr_remove_tree(dir), ==, 0); /* already gone */
}

int main(int argc, char **argv) {
        arg0 = argv[0];
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/cli/misc/mountinfo-below", test_mountinfo_below);
        g_test_add_func("/cli/misc/log-lines", test_log_lines);
        g_test_add_func("/cli/misc/processes", test_processes);
        return g_test_run();
}
