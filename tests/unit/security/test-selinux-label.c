/* Unit tests for SELinux label arithmetic: parsing, VM and file labels, mount options, lxc_contexts. */
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "selinux-exec.h"
#include "selinux-label.h"

#define _cleanup_kc_label_ __attribute__((cleanup(kc_selinux_label_done)))

static void test_parse_fields(void) {
        KcSelinuxLabel l = {};

        g_assert_cmpint(kc_selinux_label_parse("system_u:system_r:container_t:s0:c123,c456", &l), ==, 0);
        g_assert_cmpstr(l.user, ==, "system_u");
        g_assert_cmpstr(l.role, ==, "system_r");
        g_assert_cmpstr(l.type, ==, "container_t");
        g_assert_cmpstr(l.level, ==, "s0:c123,c456");
        kc_selinux_label_done(&l);

        /* A policy without MLS has no level. */
        g_assert_cmpint(kc_selinux_label_parse("user_u:user_r:user_t", &l), ==, 0);
        g_assert_cmpstr(l.type, ==, "user_t");
        g_assert_null(l.level);
        kc_selinux_label_done(&l);

        g_assert_cmpint(kc_selinux_label_parse("unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023", &l),
                        ==, 0);
        g_assert_cmpstr(l.level, ==, "s0-s0:c0.c1023");
        kc_selinux_label_done(&l);
}

static const char *const valid_labels[] = {
        "system_u:system_r:container_t:s0:c123,c456",
        "system_u:system_r:container_kvm_t:s0:c1,c2",
        "system_u:object_r:container_file_t:s0",
        "system_u:system_r:spc_t:s0",
        "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023",
        "system_u:system_r:container_t:s0:c0.c5,c9,c1023",
        "system_u:system_r:container_t:s0-s15:c0.c1023",
        "staff_u:staff_r:staff.sub-t:s1",
        "_u:_r:_t",
};

static const char *const invalid_labels[] = {
        "",
        "container_t",
        "system_u:system_r",
        "system_u:system_r:",
        "system_u:system_r:container_t:",
        "::container_t:s0",
        "system_u::container_t:s0",
        "system_u:system_r:container_t:s0:",
        "system_u:system_r:container_t:s0:c",
        "system_u:system_r:container_t:s0:c1,",
        "system_u:system_r:container_t:s0:,c1",
        "system_u:system_r:container_t:s0:c1,,c2",
        "system_u:system_r:container_t:s0:c1024",
        "system_u:system_r:container_t:s0:c01",
        "system_u:system_r:container_t:s0:c-1",
        "system_u:system_r:container_t:s0:c5.c5",
        "system_u:system_r:container_t:s0:c9.c2",
        "system_u:system_r:container_t:s0:c1.",
        "system_u:system_r:container_t:s0:c1.2",
        "system_u:system_r:container_t:s",
        "system_u:system_r:container_t:s0x",
        "system_u:system_r:container_t:S0",
        "system_u:system_r:container_t:s0-",
        "system_u:system_r:container_t:s3-s1",
        "system_u:system_r:container_t:s0:c1:c2",
        "system_u:system_r:container_t:s0 ",
        " system_u:system_r:container_t:s0",
        "system_u:system_r:container t:s0",
        "system_u:system_r:container_t:s0\n",
        "system_u:system_r:container_t\":s0",
        "system_u:system_r:9container_t:s0",
        "sys/tem_u:system_r:container_t:s0",
        "system_u:system_r:container_t:s0:c1,c2\",rw",
        "system_u:system_r:container_t:s0:c1,c2,context=x",
};

static void test_valid(void) {
        for (size_t i = 0; i < G_N_ELEMENTS(valid_labels); i++) {
                g_test_message("valid: %s", valid_labels[i]);
                g_assert_true(kc_selinux_label_is_valid(valid_labels[i]));
        }
}

static void test_invalid(void) {
        KcSelinuxLabel l = {};

        for (size_t i = 0; i < G_N_ELEMENTS(invalid_labels); i++) {
                g_autofree char *escaped = g_strescape(invalid_labels[i], NULL);
                g_test_message("invalid: '%s'", escaped);
                g_assert_cmpint(kc_selinux_label_parse(invalid_labels[i], &l), ==, -EINVAL);
                g_assert_null(l.user); /* untouched on failure */
        }
        g_assert_cmpint(kc_selinux_label_parse(NULL, &l), ==, -EINVAL);

        /* Over-long labels. */
        GString *s = g_string_new("system_u:system_r:container_t:s0:c0");
        for (int i = 1; s->len <= KC_SELINUX_LABEL_MAX; i++)
                g_string_append_printf(s, ",c%d", i % 1024);
        g_assert_false(kc_selinux_label_is_valid(s->str));
        g_string_free(s, TRUE);
}

static void test_levels(void) {
        g_assert_true(kc_selinux_level_is_valid("s0"));
        g_assert_true(kc_selinux_level_is_valid("s0:c1,c2"));
        g_assert_true(kc_selinux_level_is_valid("s0-s0:c0.c1023"));
        g_assert_true(kc_selinux_level_is_valid("s0:c1-s1:c1,c2"));
        g_assert_false(kc_selinux_level_is_valid(""));
        g_assert_false(kc_selinux_level_is_valid(NULL));
        g_assert_false(kc_selinux_level_is_valid("c1"));
        g_assert_false(kc_selinux_level_is_valid("s0:c1-"));
        g_assert_false(kc_selinux_level_is_valid("s00"));
        g_assert_false(kc_selinux_level_is_valid("s0::c1"));
        g_assert_false(kc_selinux_level_is_valid("s10000"));
}

static void test_format_roundtrip(void) {
        for (size_t i = 0; i < G_N_ELEMENTS(valid_labels); i++) {
                KcSelinuxLabel l = {};
                char *s = NULL;

                g_assert_cmpint(kc_selinux_label_parse(valid_labels[i], &l), ==, 0);
                g_assert_cmpint(kc_selinux_label_format(&l, &s), ==, 0);
                g_assert_cmpstr(s, ==, valid_labels[i]);
                free(s);
                kc_selinux_label_done(&l);
        }

        KcSelinuxLabel bad = {.user = (char *) "u", .role = (char *) "r", .type = (char *) "t t"};
        char *s = NULL;
        g_assert_cmpint(kc_selinux_label_format(&bad, &s), ==, -EINVAL);
        g_assert_null(s);
}

static void test_vm_process_label(void) {
        static const struct {
                const char *pod, *type, *want;
        } cases[] = {
                {"system_u:system_r:container_t:s0:c123,c456", NULL,
                 "system_u:system_r:container_kvm_t:s0:c123,c456"},
                /* CRI-O already rewrote the infra label: unchanged. */
                {"system_u:system_r:container_kvm_t:s0:c1,c2", NULL,
                 "system_u:system_r:container_kvm_t:s0:c1,c2"},
                {"system_u:system_r:spc_t:s0", NULL, "system_u:system_r:container_kvm_t:s0"},
                {"staff_u:staff_r:container_t:s0-s0:c0.c1023", NULL,
                 "staff_u:staff_r:container_kvm_t:s0-s0:c0.c1023"},
                {"user_u:user_r:user_t", NULL, "user_u:user_r:container_kvm_t"},
                /* A kvm_process type read from lxc_contexts. */
                {"system_u:system_r:container_t:s0:c7,c8", "svirt_kvm_t",
                 "system_u:system_r:svirt_kvm_t:s0:c7,c8"},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                char *s = NULL;

                g_assert_cmpint(kc_selinux_vm_process_label(cases[i].pod, cases[i].type, &s), ==, 0);
                g_assert_cmpstr(s, ==, cases[i].want);
                free(s);
        }
}

static void test_vm_process_label_none_and_bad(void) {
        char *s = (char *) "untouched";

        g_assert_cmpint(kc_selinux_vm_process_label(NULL, NULL, &s), ==, 0);
        g_assert_null(s);
        s = (char *) "untouched";
        g_assert_cmpint(kc_selinux_vm_process_label("", NULL, &s), ==, 0);
        g_assert_null(s);

        s = (char *) "untouched";
        for (size_t i = 1; i < G_N_ELEMENTS(invalid_labels); i++)
                g_assert_cmpint(kc_selinux_vm_process_label(invalid_labels[i], NULL, &s), ==, -EINVAL);
        g_assert_cmpint(kc_selinux_vm_process_label("system_u:system_r:container_t:s0", "bad type", &s), ==,
                        -EINVAL);
        g_assert_cmpint(kc_selinux_vm_process_label("system_u:system_r:container_t:s0", "", &s), ==,
                        -EINVAL);
        g_assert_cmpstr(s, ==, "untouched");
}

static void test_file_label(void) {
        char *s = NULL;

        g_assert_cmpint(kc_selinux_file_label("system_u:system_r:container_kvm_t:s0:c123,c456", NULL, &s),
                        ==, 0);
        g_assert_cmpstr(s, ==, "system_u:object_r:container_file_t:s0:c123,c456");
        free(s);
        g_assert_cmpint(kc_selinux_file_label("system_u:system_r:container_t:s0", "container_ro_file_t", &s),
                        ==, 0);
        g_assert_cmpstr(s, ==, "system_u:object_r:container_ro_file_t:s0");
        free(s);
        s = (char *) "untouched";
        g_assert_cmpint(kc_selinux_file_label(NULL, NULL, &s), ==, 0);
        g_assert_null(s);
        g_assert_cmpint(kc_selinux_file_label("garbage", NULL, &s), ==, -EINVAL);
}

static void test_mount_options(void) {
        static const char *label = "system_u:object_r:container_file_t:s0:c123,c456";
        char *s = NULL;

        g_assert_cmpint(kc_selinux_mount_options("ro,nosuid", label, &s), ==, 0);
        g_assert_cmpstr(s, ==, "ro,nosuid,context=\"system_u:object_r:container_file_t:s0:c123,c456\"");
        free(s);
        g_assert_cmpint(kc_selinux_mount_options(NULL, label, &s), ==, 0);
        g_assert_cmpstr(s, ==, "context=\"system_u:object_r:container_file_t:s0:c123,c456\"");
        free(s);
        g_assert_cmpint(kc_selinux_mount_options("", label, &s), ==, 0);
        g_assert_cmpstr(s, ==, "context=\"system_u:object_r:container_file_t:s0:c123,c456\"");
        free(s);
        /* No label: options unchanged. */
        g_assert_cmpint(kc_selinux_mount_options("rw,relatime", NULL, &s), ==, 0);
        g_assert_cmpstr(s, ==, "rw,relatime");
        free(s);
        g_assert_cmpint(kc_selinux_mount_options(NULL, "", &s), ==, 0);
        g_assert_cmpstr(s, ==, "");
        free(s);

        s = (char *) "untouched";
        g_assert_cmpint(kc_selinux_mount_options("rw", "system_u:object_r:x_t:s0\",rw", &s), ==, -EINVAL);
        g_assert_cmpint(kc_selinux_mount_options("rw", "not a label", &s), ==, -EINVAL);
        g_assert_cmpint(kc_selinux_mount_options("rw,context=\"a:b:c\"", label, &s), ==, -EEXIST);
        g_assert_cmpint(kc_selinux_mount_options("rootcontext=a:b:c", label, &s), ==, -EEXIST);
        g_assert_cmpint(kc_selinux_mount_options("ro,fscontext=a:b:c,nodev", label, &s), ==, -EEXIST);
        g_assert_cmpint(kc_selinux_mount_options("defcontext=a:b:c", label, &s), ==, -EEXIST);
        g_assert_cmpstr(s, ==, "untouched");
        /* An option that merely contains the word is not a context option. */
        g_assert_cmpint(kc_selinux_mount_options("xcontext=1", label, &s), ==, 0);
        free(s);
}

static void test_lxc_contexts(void) {
        static const char *text = "# container-selinux lxc_contexts\n"
                                  "process = \"system_u:system_r:container_t:s0\"\n"
                                  "  file = \"system_u:object_r:container_file_t:s0\"\n"
                                  "kvm_process_extra = \"system_u:system_r:wrong_t:s0\"\n"
                                  "#kvm_process = \"system_u:system_r:commented_t:s0\"\n"
                                  "kvm_process=\"system_u:system_r:container_kvm_t:s0\"   \n"
                                  "broken = \"not a label\"\n"
                                  "bare = system_u:system_r:bare_t:s0";
        char *s = NULL;

        g_assert_cmpint(kc_selinux_lxc_contexts_lookup(text, "kvm_process", &s), ==, 0);
        g_assert_cmpstr(s, ==, "system_u:system_r:container_kvm_t:s0");
        free(s);
        g_assert_cmpint(kc_selinux_lxc_contexts_lookup(text, "file", &s), ==, 0);
        g_assert_cmpstr(s, ==, "system_u:object_r:container_file_t:s0");
        free(s);
        g_assert_cmpint(kc_selinux_lxc_contexts_lookup(text, "bare", &s), ==, 0);
        g_assert_cmpstr(s, ==, "system_u:system_r:bare_t:s0");
        free(s);
        s = (char *) "untouched";
        g_assert_cmpint(kc_selinux_lxc_contexts_lookup(text, "ro_file", &s), ==, -ENOENT);
        g_assert_cmpint(kc_selinux_lxc_contexts_lookup(text, "broken", &s), ==, -EINVAL);
        g_assert_cmpint(kc_selinux_lxc_contexts_lookup("", "process", &s), ==, -ENOENT);
        g_assert_cmpstr(s, ==, "untouched");
}

static void test_exec_label_without_selinux(void) {
        /* Malformed labels are refused whether or not SELinux is on. */
        g_assert_cmpint(kc_selinux_set_exec_label("garbage"), ==, -EINVAL);
        g_assert_cmpint(kc_selinux_set_sockcreate_label("sys:tem"), ==, -EINVAL);
        /* Nothing to apply. */
        g_assert_cmpint(kc_selinux_set_exec_label(NULL), ==, 0);
        g_assert_cmpint(kc_selinux_set_exec_label(""), ==, 0);
        if (kc_selinux_enabled()) {
                g_test_skip("SELinux is enabled on this host: not touching our own exec label");
                return;
        }
        /* This kernel has no SELinux: a valid label is a no-op, not an error. */
        g_assert_cmpint(kc_selinux_set_exec_label("system_u:system_r:container_kvm_t:s0:c1,c2"), ==, 0);
        g_assert_cmpint(kc_selinux_set_sockcreate_label("system_u:system_r:container_kvm_t:s0:c1,c2"), ==,
                        0);
        g_assert_cmpint(kc_selinux_set_sockcreate_label(NULL), ==, 0);
}

static void test_vm_label_for_pod(void) {
        _cleanup_kc_label_ KcSelinuxLabel kvm = {};
        g_autofree char *kvm_label = NULL, *label = NULL, *want = NULL;
        const char *want_type = KC_SELINUX_KVM_TYPE;
        int r;

        /* Whatever the host policy says kvm_process is (Debian's lxc_contexts has none). */
        r = kc_selinux_read_lxc_context("kvm_process", &kvm_label);
        if (!HAVE_SELINUX)
                g_assert_cmpint(r, ==, -EOPNOTSUPP);
        else if (r == 0) {
                g_assert_cmpint(kc_selinux_label_parse(kvm_label, &kvm), ==, 0);
                want_type = kvm.type;
        } else
                g_assert_cmpint(r, ==, -ENOENT);

        g_assert_cmpint(kc_selinux_vm_label_for_pod("system_u:system_r:container_t:s0:c5,c6", &label), ==,
                        0);
        want = g_strdup_printf("system_u:system_r:%s:s0:c5,c6", want_type);
        g_assert_cmpstr(label, ==, want);

        label = (g_free(label), (char *) NULL);
        g_assert_cmpint(kc_selinux_vm_label_for_pod(NULL, &label), ==, 0);
        g_assert_null(label);
        g_assert_cmpint(kc_selinux_vm_label_for_pod("container_t", &label), ==, -EINVAL);
        g_assert_null(label);
}

static void test_read_lxc_context_host(void) {
        g_autofree char *label = NULL;
        int r = kc_selinux_read_lxc_context("process", &label);

        if (!HAVE_SELINUX) {
                g_assert_cmpint(r, ==, -EOPNOTSUPP);
                return;
        }
        if (r == -ENOENT) {
                g_test_skip("the host policy has no lxc_contexts with a process entry");
                return;
        }
        g_assert_cmpint(r, ==, 0);
        g_assert_true(kc_selinux_label_is_valid(label));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/selinux-label/parse-fields", test_parse_fields);
        g_test_add_func("/selinux-label/valid", test_valid);
        g_test_add_func("/selinux-label/invalid", test_invalid);
        g_test_add_func("/selinux-label/levels", test_levels);
        g_test_add_func("/selinux-label/format-roundtrip", test_format_roundtrip);
        g_test_add_func("/selinux-label/vm-process-label", test_vm_process_label);
        g_test_add_func("/selinux-label/vm-process-label-none-and-bad", test_vm_process_label_none_and_bad);
        g_test_add_func("/selinux-label/file-label", test_file_label);
        g_test_add_func("/selinux-label/mount-options", test_mount_options);
        g_test_add_func("/selinux-label/lxc-contexts", test_lxc_contexts);
        g_test_add_func("/selinux-exec/without-selinux", test_exec_label_without_selinux);
        g_test_add_func("/selinux-exec/vm-label-for-pod", test_vm_label_for_pod);
        g_test_add_func("/selinux-exec/read-lxc-context-host", test_read_lxc_context_host);
        return g_test_run();
}
