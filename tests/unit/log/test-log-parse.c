/* Unit tests for -l parsing and kc_log_open's validation: conmon's table and exact messages. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "log-internal.h"
#include "log.h"

typedef struct Case {
        const char *values[4];
        int r;
        const char *error;
        bool k8s;
        const char *path;
        bool journald;
        bool passthrough;
} Case;

static const Case cases[] = {
        {{"/var/log/0.log"}, 0, NULL, true, "/var/log/0.log"},
        {{"relative.log"}, 0, NULL, true, "relative.log"},
        {{"k8s-file:/p"}, 0, NULL, true, "/p"},
        {{":/p"}, 0, NULL, true, "/p"},
        {{"k8s-file:/a:b"}, 0, NULL, true, "/a"},
        {{"k8s-file"}, -EINVAL, "k8s-file requires a filename"},
        {{"k8s-file:"}, -EINVAL, "k8s-file requires a filename"},
        {{"k8s-file::"}, -EINVAL, "k8s-file requires a filename"},
        {{"journald"}, 0, NULL, false, NULL, true},
        {{"journald:"}, 0, NULL, false, NULL, true},
        {{"journald:/ignored"}, 0, NULL, false, NULL, true},
        {{":journald"}, 0, NULL, true, "journald"},
        {{":none"}, 0, NULL, true, "none"},
        {{"none"}, 0, NULL},
        {{"off:"}, 0, NULL},
        {{"null"}, 0, NULL},
        {{"none:/x"}, 0, NULL},
        {{"passthrough"}, 0, NULL, false, NULL, false, true},
        {{"passthrough:"}, 0, NULL, false, NULL, false, true},
        {{""}, -EINVAL, "log-path must not be empty"},
        {{":"}, -EINVAL, "log-path must not be empty"},
        {{"::"}, -EINVAL, "log-path must not be empty"},
        {{"foo:/x"}, -EINVAL, "No such log driver foo"},
        {{"foo:"}, -EINVAL, "No such log driver foo"},
        {{" :/x"}, -EINVAL, "No such log driver  "},
        {{"k8s-stream-file:/x"}, -EINVAL, "No such log driver k8s-stream-file"},
        {{}, -EINVAL, "Log driver not provided. Use --log-path"},
        /* Several drivers: the last k8s-file path wins; none does not cancel the others. */
        {{"k8s-file:/a", "journald", "/b"}, 0, NULL, true, "/b", true},
        {{"journald", "none"}, 0, NULL, false, NULL, true},
        {{"passthrough", "/x"}, 0, NULL, true, "/x", false, true},
        {{"journald", "foo:"}, -EINVAL, "No such log driver foo"},
};

static void test_table(void) {
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                const Case *c = &cases[i];
                KcLogDrivers d = {};
                g_autofree char *err = NULL;
                int r;

                g_test_message("case %zu: %s", i, c->values[0] ? c->values[0] : "(none)");
                r = kc_log_parse_drivers((char *const *) c->values, &d, &err);
                g_assert_cmpint(r, ==, c->r);
                g_assert_cmpstr(err, ==, c->error);
                if (r < 0)
                        continue;
                g_assert_cmpint(d.k8s_file, ==, c->k8s);
                g_assert_cmpstr(d.k8s_path, ==, c->path);
                g_assert_cmpint(d.journald, ==, c->journald);
                g_assert_cmpint(d.passthrough, ==, c->passthrough);
                kc_log_drivers_done(&d);
        }
}

static char *tmpdir;

static int try_open(const char *cid, const char *tag, char **labels, const char *v0, const char *v1,
                    KcLogSet **ret_set, char **ret_error) {
        char *paths[] = {(char *) v0, (char *) v1, NULL};
        KcLogOptions o = {.log_paths = paths, .cid = cid, .tag = tag, .labels = labels, .name = "web"};
        KcLogSet *set = NULL;
        int r = kc_log_open(&o, &set, ret_error);

        if (ret_set)
                *ret_set = set;
        else
                kc_log_free(set);
        return r;
}

#define LONG_CID "0123456789abcdef0123456789abcdef"

static void expect_error(const char *cid, const char *tag, char **labels, const char *v0, const char *v1,
                         const char *message) {
        g_autofree char *err = NULL;
        KcLogSet *set = (KcLogSet *) 0x1;

        g_assert_cmpint(try_open(cid, tag, labels, v0, v1, &set, &err), ==, -EINVAL);
        g_assert_cmpstr(err, ==, message);
}

static void test_open_errors(void) {
        g_autofree char *file = g_build_filename(tmpdir, "ctr.log", NULL);
        g_autofree char *missing = g_build_filename(tmpdir, "no/such/dir/ctr.log", NULL);
        char *good[] = {"A_1=x", "B=", NULL};

        expect_error(LONG_CID, NULL, NULL, missing, NULL,
                     "Failed to open log file No such file or directory");
        expect_error(LONG_CID, "t", NULL, file, NULL, "k8s-file doesn't support --log-tag");
        expect_error(LONG_CID, NULL, good, file, NULL, "k8s-file doesn't support --log-label");
#if HAVE_JOURNALD
        char *nolabel[] = {"=x", NULL};
        char *noeq[] = {"ABC", NULL};
        char *twoeq[] = {"A=b=c", NULL};
        char *lower[] = {"MY%LABEL=x", NULL};

        expect_error("0123456789ab", NULL, NULL, "journald", NULL,
                     "Container ID must be longer than 12 characters");
        expect_error("0123456789ab", NULL, NULL, file, "journald",
                     "Container ID must be longer than 12 characters");
        expect_error(LONG_CID, NULL, nolabel, "journald", NULL,
                     "Container labels must be in format LABEL=VALUE (no LABEL present in '=x')");
        expect_error(LONG_CID, NULL, noeq, "journald", NULL,
                     "Container labels must be in format LABEL=VALUE (none or more than one '=' present in "
                     "'ABC')");
        expect_error(LONG_CID, NULL, twoeq, "journald", NULL,
                     "Container labels must be in format LABEL=VALUE (none or more than one '=' present in "
                     "'A=b=c')");
        expect_error(LONG_CID, NULL, lower, "journald", NULL,
                     "Container label names must contain only uppercase letters, numbers and underscore (in "
                     "'MY%LABEL=x')");

        /* Accepted: tag and labels with journald next to k8s-file; 13-char id. */
        g_assert_cmpint(try_open(LONG_CID, "t", good, file, "journald", NULL, NULL), ==, 0);
        g_assert_cmpint(try_open("0123456789abc", NULL, NULL, "journald", NULL, NULL, NULL), ==, 0);
#else
        expect_error(LONG_CID, NULL, NULL, "journald", NULL,
                     "Include journald in compilation path to log to systemd journal");
#endif
        /* none and passthrough accept a tag (conmon ignores it), even with a short id. */
        g_assert_cmpint(try_open("0123", "t", NULL, "none", NULL, NULL, NULL), ==, 0);
        g_assert_cmpint(try_open("0123", "t", good, "passthrough", NULL, NULL, NULL), ==, 0);
}

static void test_open_kinds(void) {
        g_autofree char *file = g_build_filename(tmpdir, "kinds.log", NULL);
        KcLogSet *set = NULL;
        struct stat st;

        g_assert_cmpint(try_open(LONG_CID, NULL, NULL, "none", NULL, &set, NULL), ==, 0);
        g_assert_false(kc_log_has_drivers(set));
        g_assert_false(kc_log_is_passthrough(set));
        kc_log_write(set, KC_STREAM_STDOUT, "x\n", 2);
        g_assert_cmpint(kc_log_reopen(set), ==, 0);
        kc_log_flush(set);
        kc_log_free(set);

        g_assert_cmpint(try_open(LONG_CID, NULL, NULL, "passthrough:", NULL, &set, NULL), ==, 0);
        g_assert_false(kc_log_has_drivers(set));
        g_assert_true(kc_log_is_passthrough(set));
        kc_log_free(set);

        /* The file exists, 0640, as soon as kc_log_open returns (before the monitor forks). */
        g_assert_cmpint(try_open(LONG_CID, NULL, NULL, file, NULL, &set, NULL), ==, 0);
        g_assert_true(kc_log_has_drivers(set));
        g_assert_cmpint(stat(file, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0777, ==, 0640);
        g_assert_cmpint(st.st_size, ==, 0);
        kc_log_free(set);
}

static void test_error_prefix(void) {
        g_assert_cmpstr(kc_log_error_prefix("Log driver not provided. Use --log-path"), ==, "[conmon:e] ");
        g_assert_cmpstr(kc_log_error_prefix("k8s-file doesn't support --log-tag"), ==, "[conmon:e] ");
        g_assert_cmpstr(kc_log_error_prefix("k8s-file doesn't support --log-label"), ==, "[conmon:e] ");
        g_assert_cmpstr(kc_log_error_prefix("Container ID must be longer than 12 characters"), ==,
                        "[conmon:e] ");
        g_assert_cmpstr(kc_log_error_prefix("No such log driver foo"), ==, "[conmon:e]: ");
        g_assert_cmpstr(kc_log_error_prefix("log-path must not be empty"), ==, "[conmon:e]: ");
        g_assert_cmpstr(kc_log_error_prefix("Failed to open log file No such file or directory"), ==,
                        "[conmon:e]: ");
}

int main(int argc, char **argv) {
        int r;

        umask(022);
        g_test_init(&argc, &argv, NULL);
        tmpdir = g_dir_make_tmp("kc-log-parse-XXXXXX", NULL);
        g_assert_nonnull(tmpdir);
        g_test_add_func("/log/parse/table", test_table);
        g_test_add_func("/log/parse/open-errors", test_open_errors);
        g_test_add_func("/log/parse/open-kinds", test_open_kinds);
        g_test_add_func("/log/parse/error-prefix", test_error_prefix);
        r = g_test_run();
        g_assert_cmpint(rm_rf(tmpdir), ==, 0);
        g_free(tmpdir);
        return r;
}
