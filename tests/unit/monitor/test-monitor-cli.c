/* Unit tests: conmon-compatible option parsing and validation messages. */
#include <glib.h>
#include <string.h>

#include "cli.h"

static int parse(KcOptions *o, char **err, ...) {
        GPtrArray *a = g_ptr_array_new();
        va_list ap;
        const char *s;
        int r;

        g_ptr_array_add(a, (char *) "kata-conmon");
        va_start(ap, err);
        while ((s = va_arg(ap, const char *)))
                g_ptr_array_add(a, (char *) s);
        va_end(ap);
        g_ptr_array_add(a, NULL);
        *err = NULL;
        r = kc_cli_parse((int) a->len - 1, (char **) a->pdata, o, err);
        g_ptr_array_free(a, TRUE);
        return r;
}

static void test_long_and_short_forms(void) {
        KcOptions o;
        g_autofree char *err = NULL;

        g_assert_cmpint(parse(&o, &err, "--cid=abc", "-u", "uu", "-rX", "--bundle", "/b", "-p", "/pid",
                              "--timeout=5", "-T", "7", "--log-size-max", "-1", NULL),
                        ==, 0);
        g_assert_cmpstr(o.cid, ==, "abc");
        g_assert_cmpstr(o.cuuid, ==, "uu");
        g_assert_cmpstr(o.runtime, ==, "X");
        g_assert_cmpstr(o.bundle, ==, "/b");
        g_assert_cmpstr(o.container_pidfile, ==, "/pid");
        g_assert_cmpint(o.timeout, ==, 7);
        g_assert_cmpint(o.log_size_max, ==, -1);
        g_assert_cmpint(o.log_max_files, ==, 1);
        kc_options_clear(&o);
}

static void test_values_starting_with_dash(void) {
        KcOptions o;
        g_autofree char *err = NULL;

        g_assert_cmpint(parse(&o, &err, "-c", "x", "--runtime-arg", "--log-format=json", "--runtime-arg",
                              "--log", "--runtime-arg=/tmp/oci-log", "--runtime-opt", "--preserve-fds",
                              "--restore-arg", "0", NULL),
                        ==, 0);
        g_assert_cmpuint(g_strv_length(o.runtime_args), ==, 3);
        g_assert_cmpstr(o.runtime_args[0], ==, "--log-format=json");
        g_assert_cmpstr(o.runtime_args[1], ==, "--log");
        g_assert_cmpstr(o.runtime_args[2], ==, "/tmp/oci-log");
        /* --restore-arg is a hidden alias of --runtime-opt and keeps the order. */
        g_assert_cmpuint(g_strv_length(o.runtime_opts), ==, 2);
        g_assert_cmpstr(o.runtime_opts[0], ==, "--preserve-fds");
        g_assert_cmpstr(o.runtime_opts[1], ==, "0");
        kc_options_clear(&o);
}

static void test_repeatable_log_paths(void) {
        KcOptions o;
        g_autofree char *err = NULL;

        g_assert_cmpint(parse(&o, &err, "-l", "k8s-file:/a", "--log-path", "journald:", "-l/c", NULL), ==,
                        0);
        g_assert_cmpuint(g_strv_length(o.log_paths), ==, 3);
        g_assert_cmpstr(o.log_paths[0], ==, "k8s-file:/a");
        g_assert_cmpstr(o.log_paths[1], ==, "journald:");
        g_assert_cmpstr(o.log_paths[2], ==, "/c");
        kc_options_clear(&o);
}

static void test_api_version_is_a_flag(void) {
        KcOptions o;
        g_autofree char *err = NULL;

        /* Podman writes "--api-version 1": the 1 is a stray positional and ignored. */
        g_assert_cmpint(parse(&o, &err, "--api-version", "1", "-c", "x", "stray", NULL), ==, 0);
        g_assert_true(o.api_version);
        g_assert_cmpstr(o.cid, ==, "x");
        kc_options_clear(&o);
}

static void test_grouped_flags(void) {
        KcOptions o;
        g_autofree char *err = NULL;

        g_assert_cmpint(parse(&o, &err, "-it", "-e", "-s", "-0", "/persist", NULL), ==, 0);
        g_assert_true(o.stdin_);
        g_assert_true(o.terminal);
        g_assert_true(o.exec);
        g_assert_true(o.systemd_cgroup);
        g_assert_cmpstr(o.persist_dir, ==, "/persist");
        kc_options_clear(&o);
}

static void test_aliases(void) {
        KcOptions o;
        g_autofree char *err = NULL;

        g_assert_cmpint(parse(&o, &err, "--pidfile", "/p", "--container-pidfile", "/q", NULL), ==, 0);
        g_assert_cmpstr(o.container_pidfile, ==, "/q"); /* last one wins */
        kc_options_clear(&o);
}

static void test_errors(void) {
        KcOptions o;
        char *err;

        g_assert_cmpint(parse(&o, &err, "--foo", NULL), ==, -EINVAL);
        g_assert_cmpstr(err, ==, "Unknown option --foo");
        g_free(err);
        kc_options_clear(&o);

        g_assert_cmpint(parse(&o, &err, "--bogus=1", NULL), ==, -EINVAL);
        g_assert_cmpstr(err, ==, "Unknown option --bogus=1");
        g_free(err);
        kc_options_clear(&o);

        g_assert_cmpint(parse(&o, &err, "-x", NULL), ==, -EINVAL);
        g_assert_cmpstr(err, ==, "Unknown option -x");
        g_free(err);
        kc_options_clear(&o);

        g_assert_cmpint(parse(&o, &err, "-c", "x", "-l", NULL), ==, -EINVAL);
        g_assert_cmpstr(err, ==, "Missing argument for -l");
        g_free(err);
        kc_options_clear(&o);

        g_assert_cmpint(parse(&o, &err, "--cid", NULL), ==, -EINVAL);
        g_assert_cmpstr(err, ==, "Missing argument for --cid");
        g_free(err);
        kc_options_clear(&o);

        g_assert_cmpint(parse(&o, &err, "--timeout", "abc", NULL), ==, -EINVAL);
        g_assert_cmpstr(err, ==,
                        "Cannot parse integer value \u201c"
                        "abc"
                        "\u201d for --timeout");
        g_free(err);
        kc_options_clear(&o);

        g_assert_cmpint(parse(&o, &err, "--exit-delay=99999999999", NULL), ==, -EINVAL);
        g_assert_nonnull(strstr(err, "out of range"));
        g_free(err);
        kc_options_clear(&o);

        /* A flag does not take a value. */
        g_assert_cmpint(parse(&o, &err, "--sync=1", NULL), ==, -EINVAL);
        g_free(err);
        kc_options_clear(&o);
}

static void test_help_and_version(void) {
        KcOptions o;
        g_autofree char *err = NULL;

        g_assert_cmpint(parse(&o, &err, "-c", "x", "--help", "--foo", NULL), ==, 0);
        g_assert_true(o.help);
        kc_options_clear(&o);
        g_assert_cmpint(parse(&o, &err, "--version", NULL), ==, 0);
        g_assert_true(o.version);
        kc_options_clear(&o);
}

static char *help_text(void) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        kc_cli_print_help(f);
        fclose(f);
        return buf;
}

static void test_help_mentions_what_callers_grep(void) {
        g_autofree char *h = help_text();

        g_assert_nonnull(strstr(h, "--log-global-size-max"));
        g_assert_nonnull(strstr(h, "--exec"));
        g_assert_nonnull(strstr(h, "journald"));
        g_assert_null(strstr(h, "--restore-arg")); /* hidden alias */
}

static void test_version_format(void) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        g_auto(GStrv) lines = NULL;
        g_auto(GStrv) fields = NULL;

        kc_cli_print_version(f);
        fclose(f);
        lines = g_strsplit(buf, "\n", -1);
        g_assert_true(g_str_has_prefix(lines[0], "conmon version "));
        g_assert_true(g_str_has_prefix(lines[1], "commit: "));
        /* CRI-O parses the third whitespace field as semver and needs >= 2.1.2. */
        fields = g_strsplit(lines[0], " ", -1);
        g_assert_cmpuint(g_strv_length(fields), ==, 3);
        g_assert_true(g_regex_match_simple("^[0-9]+\\.[0-9]+\\.[0-9]+$", fields[2], 0, 0));
        g_assert_cmpint(strverscmp(fields[2], "2.1.2"), >=, 0);
        free(buf);
}

static void expect_invalid(const char *expected, ...) {
        GPtrArray *a = g_ptr_array_new();
        va_list ap;
        const char *s;
        KcOptions o;
        g_autofree char *err = NULL, *msg = NULL;

        g_ptr_array_add(a, (char *) "kata-conmon");
        va_start(ap, expected);
        while ((s = va_arg(ap, const char *)))
                g_ptr_array_add(a, (char *) s);
        va_end(ap);
        g_assert_cmpint(kc_cli_parse((int) a->len, (char **) a->pdata, &o, &err), ==, 0);
        g_assert_cmpint(kc_cli_validate(&o, &msg), ==, -EINVAL);
        g_assert_cmpstr(msg, ==, expected);
        kc_options_clear(&o);
        g_ptr_array_free(a, TRUE);
}

static void test_validation_order_and_messages(void) {
        expect_invalid("conmon: Container ID not provided. Use --cid", "--log-level", "foo", NULL);
        expect_invalid("[conmon:e]: No such log level foo", "-c", "x", "--log-level", "foo", NULL);
        expect_invalid("[conmon:e] Container UUID not provided. Use --cuuid", "-c", "x", NULL);
        expect_invalid("[conmon:e] Runtime path not provided. Use --runtime", "-c", "x", "-u", "y", NULL);
        expect_invalid("[conmon:e]: Runtime path /nonexistent/rt is not valid No such file or directory",
                       "-c", "x", "-u", "y", "-r", "/nonexistent/rt", NULL);
        expect_invalid("[conmon:e] Exec process spec path not provided. Use --exec-process-spec", "-c", "x",
                       "-u", "y", "-r", "/bin/true", "-e", "--exit-delay", "-1", NULL);
        expect_invalid("[conmon:e] Attach can only be specified with exec", "-c", "x", "-u", "y", "-r",
                       "/bin/true", "--exec-attach", NULL);
        expect_invalid("[conmon:e] Attach can only be specified for a non-legacy exec session", "-c", "x",
                       "-r", "/bin/true", "-e", "--exec-process-spec", "/x", "--exec-attach", NULL);
        expect_invalid("[conmon:e] Delay before invoking exit command must be greater than or equal to 0",
                       "-c", "x", "-u", "y", "-r", "/bin/true", "--exit-delay", "-1", NULL);
}

static void test_validation_accepts(void) {
        KcOptions o;
        g_autofree char *err = NULL, *msg = NULL;
        char *legacy_exec[] = {(char *) "k",
                               (char *) "-c",
                               (char *) "x",
                               (char *) "-r",
                               (char *) "/bin/true",
                               (char *) "-e",
                               (char *) "--exec-process-spec",
                               (char *) "/p",
                               NULL};

        /* A legacy exec session needs no --cuuid. */
        g_assert_cmpint(kc_cli_parse(8, legacy_exec, &o, &err), ==, 0);
        g_assert_cmpint(kc_cli_validate(&o, &msg), ==, 0);
        kc_options_clear(&o);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/monitor/cli/long-and-short-forms", test_long_and_short_forms);
        g_test_add_func("/monitor/cli/values-starting-with-dash", test_values_starting_with_dash);
        g_test_add_func("/monitor/cli/repeatable-log-paths", test_repeatable_log_paths);
        g_test_add_func("/monitor/cli/api-version-is-a-flag", test_api_version_is_a_flag);
        g_test_add_func("/monitor/cli/grouped-flags", test_grouped_flags);
        g_test_add_func("/monitor/cli/aliases", test_aliases);
        g_test_add_func("/monitor/cli/errors", test_errors);
        g_test_add_func("/monitor/cli/help-and-version", test_help_and_version);
        g_test_add_func("/monitor/cli/help-mentions-what-callers-grep",
                        test_help_mentions_what_callers_grep);
        g_test_add_func("/monitor/cli/version-format", test_version_format);
        g_test_add_func("/monitor/cli/validation-order-and-messages", test_validation_order_and_messages);
        g_test_add_func("/monitor/cli/validation-accepts", test_validation_accepts);
        return g_test_run();
}
