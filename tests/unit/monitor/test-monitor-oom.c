/* Unit tests: parsing /proc/<pid>/cgroup and memory.events for OOM watching. */
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "oom.h"

static void test_cgroup_path(void) {
        const char *hybrid =
                "12:pids:/a\n11:memory:/kubepods/pod1/ctr\n3:cpu,cpuacct:/x\n0::/unified/path\n";
        g_autofree char *mem = kc_oom_cgroup_path(hybrid, "memory");
        g_autofree char *cpu = kc_oom_cgroup_path(hybrid, "cpuacct");
        g_autofree char *v2 = kc_oom_cgroup_path(hybrid, "");
        g_autofree char *none = kc_oom_cgroup_path("1:name=systemd:/s\n", "memory");
        g_autofree char *none2 = kc_oom_cgroup_path("1:name=systemd:/s\n", "");

        g_assert_cmpstr(mem, ==, "/kubepods/pod1/ctr");
        g_assert_cmpstr(cpu, ==, "/x");
        g_assert_cmpstr(v2, ==, "/unified/path");
        g_assert_null(none);
        g_assert_null(none2);
}

static void test_events(void) {
        long long oom = -1, kill = -1;

        g_assert_cmpint(kc_oom_parse_events("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n",
                                            &oom, &kill),
                        ==, 0);
        g_assert_cmpint(oom, ==, 3);
        g_assert_cmpint(kill, ==, 2);
        g_assert_cmpint(kc_oom_parse_events("max 1\n", &oom, &kill), ==, 0);
        g_assert_cmpint(oom, ==, 0);
        g_assert_cmpint(kill, ==, 0);
}

static void count(void *userdata) {
        (*(int *) userdata)++;
}

static void iterate(void) {
        gint64 end = g_get_monotonic_time() + 50 * 1000;
        while (g_get_monotonic_time() < end)
                g_main_context_iteration(NULL, FALSE);
}

/* cgroup v2 logic against a stand-in memory.events (inotify works on any file). */
static void test_v2_watch(void) {
        g_autofree char *dir = g_dir_make_tmp("kc-oom-XXXXXX", NULL);
        g_autofree char *ev = g_build_filename(dir, "memory.events", NULL);
        KcOomWatch *w = NULL;
        int hits = 0;

        g_assert_true(g_file_set_contents(ev, "low 0\nhigh 0\nmax 0\noom 2\noom_kill 1\n", -1, NULL));
        g_assert_cmpint(kc_oom_watch_dir(dir, true, count, &hits, &w), ==, 0);
        iterate();
        g_assert_cmpint(hits, ==, 0); /* counters at start are history, not news */

        /* rewrite in place (IN_MODIFY), as the kernel does */
        FILE *f = fopen(ev, "w");
        fputs("low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n", f);
        fclose(f);
        iterate();
        g_assert_cmpint(hits, ==, 0); /* other counters changed: not an OOM */

        f = fopen(ev, "w");
        fputs("low 0\nhigh 0\nmax 3\noom 3\noom_kill 1\n", f);
        fclose(f);
        iterate();
        g_assert_cmpint(hits, ==, 1); /* oom without a kill counts */

        f = fopen(ev, "w");
        fputs("low 0\nhigh 0\nmax 3\noom 3\noom_kill 2\n", f);
        fclose(f);
        iterate();
        g_assert_cmpint(hits, ==, 2); /* and a kill on its own counter too */

        /* the final check after exit catches an event inotify did not deliver yet */
        kc_oom_watch_free(w);
        w = NULL;
        g_assert_cmpint(kc_oom_watch_dir(dir, true, count, &hits, &w), ==, 0);
        f = fopen(ev, "w");
        fputs("oom 4\noom_kill 3\n", f);
        fclose(f);
        kc_oom_watch_final_check(w);
        g_assert_cmpint(hits, ==, 3);
        kc_oom_watch_free(w);

        g_unlink(ev);
        g_rmdir(dir);
}

static void test_missing_cgroup(void) {
        KcOomWatch *w = NULL;
        int hits = 0;

        g_assert_cmpint(kc_oom_watch_dir("/nonexistent/cgroup", true, count, &hits, &w), <, 0);
        g_assert_cmpint(kc_oom_watch_dir("/nonexistent/cgroup", false, count, &hits, &w), <, 0);
        g_assert_null(w);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/monitor/oom/cgroup-path", test_cgroup_path);
        g_test_add_func("/monitor/oom/events", test_events);
        g_test_add_func("/monitor/oom/v2-watch", test_v2_watch);
        g_test_add_func("/monitor/oom/missing-cgroup", test_missing_cgroup);
        return g_test_run();
}
