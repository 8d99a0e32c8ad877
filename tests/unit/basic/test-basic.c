/* Unit tests for runtime/lib/basic: integer and fd parsing, atomic writes, log levels. */
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "fd-util.h"
#include "fileio.h"
#include "log.h"

static void test_parse_fd(void) {
        g_assert_cmpint(parse_fd("3"), ==, 3);
        g_assert_cmpint(parse_fd("17"), ==, 17);
        g_assert_cmpint(parse_fd(""), ==, -EINVAL);
        g_assert_cmpint(parse_fd("3x"), ==, -EINVAL);
        g_assert_cmpint(parse_fd("-1"), ==, -EINVAL);
        g_assert_cmpint(parse_fd(" 3"), ==, -EINVAL);
        g_assert_cmpint(parse_fd("99999999999"), ==, -EINVAL);
}

static void test_atoi(void) {
        int v = 0;
        g_assert_cmpint(safe_atoi("-42", &v), ==, 0);
        g_assert_cmpint(v, ==, -42);
        g_assert_cmpint(safe_atoi("4.2", &v), ==, -EINVAL);
        g_assert_cmpint(safe_atoi("4294967296", &v), ==, -ERANGE);
}

static void test_atomic_write(void) {
        g_autofree char *dir = g_dir_make_tmp("kc-basic-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "exit", NULL);
        g_autofree char *content = NULL;
        struct stat st;

        g_assert_cmpint(write_file_atomic(path, "137", 3, 0644, true), ==, 0);
        g_assert_true(g_file_get_contents(path, &content, NULL, NULL));
        g_assert_cmpstr(content, ==, "137");
        g_assert_cmpint(stat(path, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0777, ==, 0644);
        /* Nothing but the final file remains in the directory. */
        GDir *d = g_dir_open(dir, 0, NULL);
        g_assert_cmpstr(g_dir_read_name(d), ==, "exit");
        g_assert_null(g_dir_read_name(d));
        g_dir_close(d);

        g_autofree char *nested = g_build_filename(dir, "a/b/c", NULL);
        g_assert_cmpint(mkdir_p(nested, 0755), ==, 0);
        g_assert_true(g_file_test(nested, G_FILE_TEST_IS_DIR));
        char *buf = NULL;
        g_assert_cmpint(read_file_bounded(path, 2, &buf, NULL), ==, -EFBIG);
        g_assert_cmpint(rm_rf(dir), ==, 0);
        g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
}

static void test_log_levels(void) {
        g_assert_cmpint(kc_log_parse_level("DEBUG"), ==, LOG_DEBUG);
        g_assert_cmpint(kc_log_parse_level("warn"), ==, LOG_WARNING);
        g_assert_cmpint(kc_log_parse_level("fatal"), ==, LOG_CRIT);
        g_assert_cmpint(kc_log_parse_level("loud"), ==, -EINVAL);
        kc_log_set_level(LOG_CRIT);
        g_assert_cmpint(log_error_errno(-ENOENT, "quiet: %m"), ==, -ENOENT);
        g_assert_cmpint(log_error_errno(EIO, "quiet"), ==, -EIO);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/basic/parse-fd", test_parse_fd);
        g_test_add_func("/basic/atoi", test_atoi);
        g_test_add_func("/basic/atomic-write", test_atomic_write);
        g_test_add_func("/basic/log-levels", test_log_levels);
        return g_test_run();
}
