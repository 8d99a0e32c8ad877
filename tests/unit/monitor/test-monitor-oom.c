/* Unit tests: parsing /proc/<pid>/cgroup and memory.events for OOM watching. */
#include <glib.h>

#include "oom.h"

static void test_cgroup_path(void) {
        const char *hybrid = "12:pids:/a\n11:memory:/kubepods/pod1/ctr\n3:cpu,cpuacct:/x\n0::/unified/path\n";
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

        g_assert_cmpint(kc_oom_parse_events("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n", &oom, &kill), ==, 0);
        g_assert_cmpint(oom, ==, 3);
        g_assert_cmpint(kill, ==, 2);
        g_assert_cmpint(kc_oom_parse_events("max 1\n", &oom, &kill), ==, 0);
        g_assert_cmpint(oom, ==, 0);
        g_assert_cmpint(kill, ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/monitor/oom/cgroup-path", test_cgroup_path);
        g_test_add_func("/monitor/oom/events", test_events);
        return g_test_run();
}
