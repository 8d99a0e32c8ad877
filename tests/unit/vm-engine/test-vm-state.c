/* Unit tests of the runtime root, process start times and state.json (docs/vm-engine.md §4). */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "message.h"
#include "proc-util.h"
#include "vm-state.h"

static void test_runtime_root(void) {
        char *none[] = {NULL};
        char *eq[] = {(char *) "--root=/r1", NULL};
        char *sep[] = {(char *) "--debug", (char *) "--root", (char *) "/r2", NULL};
        char *last[] = {(char *) "--root=/r1", (char *) "--root", (char *) "/r3", NULL};
        char *dangling[] = {(char *) "--root", NULL};
        g_autofree char *a = kc_vm_runtime_root(none, NULL), *b = kc_vm_runtime_root(eq, "/cfg"),
                        *c = kc_vm_runtime_root(sep, NULL), *d = kc_vm_runtime_root(last, NULL),
                        *e = kc_vm_runtime_root(dangling, NULL), *f = kc_vm_runtime_root(NULL, NULL),
                        *g = kc_vm_runtime_root(none, "/cfg");
        g_assert_cmpstr(a, ==, "/run/kata-conmon");
        g_assert_cmpstr(b, ==, "/r1");
        g_assert_cmpstr(c, ==, "/r2");
        g_assert_cmpstr(d, ==, "/r3");
        g_assert_cmpstr(e, ==, "/run/kata-conmon");
        g_assert_cmpstr(f, ==, "/run/kata-conmon");
        /* No --root: the configuration's runtime_root; --root always wins over it. */
        g_assert_cmpstr(g, ==, "/cfg");
}

static void test_start_time(void) {
        g_autofree char *text = NULL;
        uint64_t t = 0;
        unsigned long long expect = 0;

        g_assert_true(g_file_get_contents("/proc/self/stat", &text, NULL, NULL));
        const char *p = strrchr(text, ')') + 2;
        /* p is field 3; field 22 is 19 fields further. */
        for (int i = 0; i < 19; i++)
                p = strchr(p, ' ') + 1;
        expect = strtoull(p, NULL, 10);
        g_assert_cmpint(proc_start_time(getpid(), &t), ==, 0);
        g_assert_cmpuint(t, ==, expect);
        g_assert_cmpint(proc_start_time(0x7ffffff0, &t), <, 0);
}

static void test_state_roundtrip(void) {
        g_autofree char *root = g_dir_make_tmp("kc-vm-state-XXXXXX", NULL);
        g_autoptr(KrState) st = g_new0(KrState, 1);
        g_autofree char *path = g_build_filename(root, "web", "state.json", NULL);
        g_autofree char *text = NULL;
        g_autoptr(JsonObject) o = NULL;
        gsize len;

        st->id = g_strdup("web");
        st->role = KR_ROLE_CONTAINER;
        st->sandbox_id = g_strdup("pod");
        st->bundle = g_strdup("/b");
        st->pid = 123;
        st->monitor_pid = 100;
        st->pid_start_time = 4567;
        st->status = KR_STATUS_CREATED;
        st->annotations = json_object_new();
        json_object_set_string_member(st->annotations, "io.kubernetes.cri-o.ContainerType", "container");
        st->sandbox_dir = g_strdup("/run/kata-containers/kata-conmon/pod");
        g_assert_cmpint(kc_vm_state_write(root, st), ==, 0);
        g_assert_true(g_file_get_contents(path, &text, &len, NULL));
        g_assert_cmpint(kc_json_parse_object(text, len, &o), ==, 0);
        g_assert_cmpstr(json_object_get_string_member(o, "id"), ==, "web");
        g_assert_cmpstr(json_object_get_string_member(o, "role"), ==, "container");
        g_assert_cmpstr(json_object_get_string_member(o, "sandbox_id"), ==, "pod");
        g_assert_cmpstr(json_object_get_string_member(o, "bundle"), ==, "/b");
        g_assert_cmpint(json_object_get_int_member(o, "pid"), ==, 123);
        g_assert_cmpint(json_object_get_int_member(o, "monitor_pid"), ==, 100);
        g_assert_cmpint(json_object_get_int_member(o, "pid_start_time"), ==, 4567);
        g_assert_cmpstr(json_object_get_string_member(o, "status"), ==, "created");
        g_assert_false(json_object_has_member(o, "exit_status"));
        g_assert_true(g_str_has_suffix(json_object_get_string_member(o, "created"), "Z"));
        g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(o, "annotations"),
                                                      "io.kubernetes.cri-o.ContainerType"),
                        ==, "container");
        g_assert_cmpstr(json_object_get_string_member(o, "sandbox_dir"), ==,
                        "/run/kata-containers/kata-conmon/pod");
        g_assert_cmpuint(json_object_get_size(o), ==, 11);

        g_assert_cmpint(kc_vm_state_mark_stopped(root, "web", 137), ==, 0);
        g_clear_pointer(&text, g_free);
        g_clear_pointer(&o, json_object_unref);
        g_assert_true(g_file_get_contents(path, &text, &len, NULL));
        g_assert_cmpint(kc_json_parse_object(text, len, &o), ==, 0);
        g_assert_cmpstr(json_object_get_string_member(o, "status"), ==, "stopped");
        g_assert_cmpint(json_object_get_int_member(o, "exit_status"), ==, 137);
        g_assert_cmpint(json_object_get_int_member(o, "pid"), ==, 123);

        g_assert_cmpint(kc_vm_state_mark_stopped(root, "gone", 1), ==, -ENOENT);
        g_assert_cmpint(rm_rf(root), ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/vm-state/runtime-root", test_runtime_root);
        g_test_add_func("/vm-state/start-time", test_start_time);
        g_test_add_func("/vm-state/roundtrip", test_state_roundtrip);
        return g_test_run();
}
