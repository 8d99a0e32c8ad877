/* Unit tests: ctl / winsz line parsing and the 200-byte line buffer. */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "ctl.h"

static void test_parse(void) {
        int t, h, w;

        g_assert_cmpint(kc_ctl_parse_line("1 24 80", &t, &h, &w), ==, 0);
        g_assert_cmpint(t, ==, 1);
        g_assert_cmpint(h, ==, 24);
        g_assert_cmpint(w, ==, 80);
        g_assert_cmpint(kc_ctl_parse_line("2 0 0", &t, &h, &w), ==, 0);
        g_assert_cmpint(t, ==, 2);
        /* extra tokens tolerated, leading zeros fine */
        g_assert_cmpint(kc_ctl_parse_line("1 2 2 3", &t, &h, &w), ==, 0);
        g_assert_cmpint(h, ==, 2);
        g_assert_cmpint(w, ==, 2);
        g_assert_cmpint(kc_ctl_parse_line("1 010 007", &t, &h, &w), ==, 0);
        g_assert_cmpint(h, ==, 10);
        g_assert_cmpint(w, ==, 7);
        g_assert_cmpint(kc_ctl_parse_line("1 1000 0", &t, &h, &w), ==, 0);
}

static void test_parse_rejects(void) {
        int t = -7, h = -7, w = -7;

        g_assert_cmpint(kc_ctl_parse_line("garbage", &t, &h, &w), ==, -EINVAL);
        g_assert_cmpint(kc_ctl_parse_line("1 2", &t, &h, &w), ==, -EINVAL);
        g_assert_cmpint(kc_ctl_parse_line("", &t, &h, &w), ==, -EINVAL);
        g_assert_cmpint(kc_ctl_parse_line("1.5 2 3", &t, &h, &w), ==, -EINVAL);
        g_assert_cmpint(kc_ctl_parse_line("0x1 2 3", &t, &h, &w), ==, -EINVAL);
        g_assert_cmpint(kc_ctl_parse_line("1 1001 3", &t, &h, &w), ==, -ERANGE);
        g_assert_cmpint(kc_ctl_parse_line("1 3 -1", &t, &h, &w), ==, -ERANGE);
        g_assert_cmpint(kc_ctl_parse_line("1 99999999999 3", &t, &h, &w), !=, 0);
        /* outputs untouched on failure */
        g_assert_cmpint(t, ==, -7);
        g_assert_cmpint(h, ==, -7);
        g_assert_cmpint(kc_ctl_parse_winsz("24 80", &h, &w), ==, 0);
        g_assert_cmpint(kc_ctl_parse_winsz("24", &h, &w), ==, -EINVAL);
        g_assert_cmpint(kc_ctl_parse_winsz("24 5000", &h, &w), ==, -ERANGE);
}

static void collect(const char *line, void *userdata) {
        g_ptr_array_add(userdata, g_strdup(line));
}

static void test_line_buffer(void) {
        g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func(g_free);
        KcLineBuffer lb = {};
        char big[450];

        kc_line_buffer_feed(&lb, "1 2 ", 4, collect, got);
        g_assert_cmpuint(got->len, ==, 0); /* partial kept */
        kc_line_buffer_feed(&lb, "3\n2 0 0\n1", 9, collect, got);
        g_assert_cmpuint(got->len, ==, 2);
        g_assert_cmpstr(got->pdata[0], ==, "1 2 3");
        g_assert_cmpstr(got->pdata[1], ==, "2 0 0");

        /* a line without a newline within 199 bytes is dropped, the next one still works */
        memset(big, 'x', sizeof(big));
        kc_line_buffer_feed(&lb, big, sizeof(big), collect, got);
        kc_line_buffer_feed(&lb, "\n1 5 6\n", 7, collect, got);
        g_assert_cmpuint(got->len, ==, 3);
        g_assert_cmpstr(got->pdata[2], ==, "1 5 6");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/monitor/ctl/parse", test_parse);
        g_test_add_func("/monitor/ctl/parse-rejects", test_parse_rejects);
        g_test_add_func("/monitor/ctl/line-buffer", test_line_buffer);
        return g_test_run();
}
