/* Unit tests: the runtime argv for create, restore and exec (conmon.md 1.5). */
#include <glib.h>

#include "runtime-args.h"

static char *joined(const KcOptions *o, const char *console) {
        g_auto(GStrv) argv = kc_runtime_argv(o, "/b", "/pid", console);
        return g_strjoinv(" ", argv);
}

static void test_create(void) {
        char *rargs[] = {(char *) "--log-format=json", (char *) "--log", (char *) "/l", NULL};
        char *ropts[] = {(char *) "--preserve-fds", (char *) "0", NULL};
        KcOptions o = {.runtime = (char *) "/rt",
                       .cid = (char *) "ctr",
                       .systemd_cgroup = true,
                       .runtime_args = rargs,
                       .runtime_opts = ropts,
                       .no_pivot = true,
                       .no_new_keyring = true};
        g_autofree char *s = joined(&o, NULL);

        g_assert_cmpstr(s, ==,
                        "/rt --systemd-cgroup --log-format=json --log /l create --bundle /b --pid-file /pid "
                        "--no-pivot --no-new-keyring --preserve-fds 0 ctr");
}

static void test_create_with_console(void) {
        char *rargs[] = {(char *) "--root=/run/r", NULL};
        KcOptions o = {.runtime = (char *) "/rt", .cid = (char *) "ctr", .runtime_args = rargs};
        g_autofree char *s = joined(&o, "/tmp/conmon-term.abc");

        g_assert_cmpstr(s, ==,
                        "/rt --root=/run/r create --bundle /b --pid-file /pid --console-socket "
                        "/tmp/conmon-term.abc ctr");
}

static void test_restore(void) {
        char *ropts[] = {(char *) "--lsm-profile=selinux:x", NULL};
        KcOptions o = {.runtime = (char *) "/rt",
                       .cid = (char *) "ctr",
                       .restore = (char *) "/ckpt",
                       .runtime_opts = ropts,
                       .systemd_cgroup = true};
        g_autofree char *s = joined(&o, NULL);

        g_assert_cmpstr(
                s, ==,
                "/rt --systemd-cgroup restore --bundle /b --pid-file /pid --detach --image-path /ckpt "
                "--work-path /b --lsm-profile=selinux:x ctr");
}

static void test_exec(void) {
        char *rargs[] = {(char *) "--root=/run/r", NULL};
        KcOptions o = {.runtime = (char *) "/rt",
                       .cid = (char *) "ctr",
                       .exec = true,
                       .terminal = true,
                       .exec_process_spec = (char *) "/spec",
                       .runtime_args = rargs,
                       .systemd_cgroup = true};
        g_autofree char *s = joined(&o, "/tmp/cs");

        /* No --systemd-cgroup and no --tty for exec. */
        g_assert_cmpstr(s, ==,
                        "/rt --root=/run/r exec --pid-file /pid --process /spec --detach --console-socket "
                        "/tmp/cs ctr");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/monitor/runtime-args/create", test_create);
        g_test_add_func("/monitor/runtime-args/create-with-console", test_create_with_console);
        g_test_add_func("/monitor/runtime-args/restore", test_restore);
        g_test_add_func("/monitor/runtime-args/exec", test_exec);
        return g_test_run();
}
