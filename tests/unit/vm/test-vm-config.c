/* Unit tests for kata-conmon.conf: defaults, overrides, malformed files, bad values, annotations. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "log.h"
#include "vm-config.h"

static GString *logged;

static void capture_sink(const KcLogRecord *rec, void *userdata) {
        g_string_append_printf(logged, "%d:%s\n", rec->priority, rec->message);
}

static void setup_log(void) {
        if (!logged)
                logged = g_string_new(NULL);
        g_string_truncate(logged, 0);
        kc_log_set_sink(capture_sink, NULL);
        kc_log_set_stderr(false);
}

static int load(const char *text, KcVmConfig **ret) {
        setup_log();
        return kc_vm_config_load_data(text, strlen(text), "test.conf", ret);
}

static void test_defaults(void) {
        g_autoptr(KcVmConfig) c = NULL;

        g_assert_cmpint(load("", &c), ==, 0);
        g_assert_cmpstr(c->qemu_path, ==, "/usr/bin/qemu-system-x86_64");
        g_assert_cmpstr(c->kernel, ==, "/var/cache/kata-conmon/kernel");
        g_assert_cmpstr(c->initrd, ==, "/var/cache/kata-conmon/initrd");
        g_assert_cmpint(c->machine_type, ==, KC_MACHINE_MICROVM);
        g_assert_cmpint(c->accel, ==, KC_ACCEL_KVM);
        g_assert_cmpuint(c->default_vcpus, ==, 1);
        g_assert_cmpuint(c->default_maxvcpus, ==, 0);
        g_assert_cmpuint(c->default_memory, ==, 2048);
        g_assert_cmpint(c->shared_fs, ==, KC_SHARED_FS_VIRTIO_FS);
        g_assert_cmpuint(c->virtio_fs_read_ahead_kb, ==, 4096);
        g_assert_true(g_str_has_suffix(c->virtio_fs_daemon, "virtiofsd"));
        g_assert_cmpstr(c->virtio_fs_cache, ==, "auto");
        g_assert_cmpstr(c->kernel_params, ==, "");
        g_assert_cmpuint(g_strv_length(c->enable_annotations), ==, 1);
        g_assert_cmpstr(c->enable_annotations[0], ==, "kernel_params");
        g_assert_cmpstr(c->runtime_root, ==, "/run/kata-conmon");
        g_assert_cmpstr(c->vm_run_dir, ==, "/run/kata-containers/kata-conmon");
        g_assert_cmpstr(c->image_cache_dir, ==, "/var/cache/kata-conmon");
        g_assert_cmpuint(c->vm_start_timeout, ==, 60);
        g_assert_false(c->enable_debug);
        g_assert_false(c->agent_enable_debug);
        g_assert_cmpstr(logged->str, ==, "");
}

static void test_overrides(void) {
        g_autoptr(KcVmConfig) c = NULL;
        const char *text = "# comment\n"
                           "[hypervisor.qemu]\n"
                           "path=/opt/qemu/bin/qemu-system-x86_64\n"
                           "machine_type=q35\n"
                           "accel=auto\n"
                           "cpu_features=pmu=off,+vmx\n"
                           "default_vcpus=2\n"
                           "default_maxvcpus=4\n"
                           "default_memory=512\n"
                           "shared_fs=virtio-9p\n"
                           "virtio_fs_daemon=/usr/libexec/virtiofsd\n"
                           "virtio_fs_cache=never\n"
                           "virtio_fs_extra_args=--thread-pool-size=1;--announce-submounts\n"
                           "msize_9p=65536\n"
                           "virtio_fs_read_ahead_kb=0\n"
                           "kernel_params=agent.log=debug quiet\n"
                           "enable_annotations=kernel_params;default_.*\n"
                           "enable_debug=true\n"
                           "[runtime]\n"
                           "runtime_root=/run/kc-test\n"
                           "vm_run_dir=/run/kc-test-vm\n"
                           "image_cache_dir=/var/cache/kc-test\n"
                           "vm_start_timeout=120\n"
                           "enable_debug=true\n"
                           "[agent.kata]\n"
                           "enable_debug=1\n";

        g_assert_cmpint(load(text, &c), ==, 0);
        g_assert_cmpstr(c->qemu_path, ==, "/opt/qemu/bin/qemu-system-x86_64");
        g_assert_cmpint(c->machine_type, ==, KC_MACHINE_Q35);
        g_assert_cmpint(c->accel, ==, KC_ACCEL_AUTO);
        g_assert_cmpstr(c->cpu_features, ==, "pmu=off,+vmx");
        g_assert_cmpuint(c->default_vcpus, ==, 2);
        g_assert_cmpuint(c->default_maxvcpus, ==, 4);
        g_assert_cmpuint(c->default_memory, ==, 512);
        g_assert_cmpint(c->shared_fs, ==, KC_SHARED_FS_VIRTIO_9P);
        g_assert_cmpstr(c->virtio_fs_daemon, ==, "/usr/libexec/virtiofsd");
        g_assert_cmpstr(c->virtio_fs_cache, ==, "never");
        g_assert_cmpuint(g_strv_length(c->virtio_fs_extra_args), ==, 2);
        g_assert_cmpstr(c->virtio_fs_extra_args[1], ==, "--announce-submounts");
        g_assert_cmpuint(c->msize_9p, ==, 65536);
        g_assert_cmpuint(c->virtio_fs_read_ahead_kb, ==, 0);
        g_assert_cmpstr(c->kernel_params, ==, "agent.log=debug quiet");
        g_assert_cmpstr(c->enable_annotations[1], ==, "default_.*");
        g_assert_true(c->enable_debug);
        g_assert_cmpstr(c->runtime_root, ==, "/run/kc-test");
        g_assert_cmpstr(c->vm_run_dir, ==, "/run/kc-test-vm");
        /* kernel and initrd follow image_cache_dir unless set */
        g_assert_cmpstr(c->kernel, ==, "/var/cache/kc-test/kernel");
        g_assert_cmpstr(c->initrd, ==, "/var/cache/kc-test/initrd");
        g_assert_cmpuint(c->vm_start_timeout, ==, 120);
        g_assert_true(c->runtime_enable_debug);
        g_assert_true(c->agent_enable_debug);
}

static void test_explicit_kernel(void) {
        g_autoptr(KcVmConfig) c = NULL;

        g_assert_cmpint(load("[runtime]\nimage_cache_dir=/x\n[hypervisor.qemu]\nkernel=/boot/vmlinux\n", &c),
                        ==, 0);
        g_assert_cmpstr(c->kernel, ==, "/boot/vmlinux");
        g_assert_cmpstr(c->initrd, ==, "/x/initrd");
}

static void test_malformed(void) {
        KcVmConfig *c = NULL;

        g_assert_cmpint(load("[hypervisor.qemu\npath=/x\n", &c), ==, -EINVAL);
        g_assert_null(c);
        g_assert_nonnull(strstr(logged->str, "test.conf: malformed configuration"));
        g_assert_cmpint(load("just text\n", &c), ==, -EINVAL);
        g_assert_null(c);
}

static void test_unknown_key_warns(void) {
        g_autoptr(KcVmConfig) c = NULL;

        g_assert_cmpint(load("[hypervisor.qemu]\nmemory_slots=10\n[factory]\nenable_template=true\n", &c),
                        ==, 0);
        g_assert_nonnull(strstr(logged->str,
                                "4:test.conf: unknown key 'memory_slots' in [hypervisor.qemu], ignored"));
        g_assert_nonnull(strstr(logged->str, "unknown key 'enable_template' in [factory]"));
}

static void test_bad_values(void) {
        static const struct {
                const char *text;
                const char *message;
        } cases[] = {
                {"[hypervisor.qemu]\ndefault_vcpus=0\n", "default_vcpus: '0' is not an integer in 1..240"},
                {"[hypervisor.qemu]\nvirtio_fs_read_ahead_kb=65537\n",
                 "virtio_fs_read_ahead_kb: '65537' is not an integer in 0..65536"},
                {"[hypervisor.qemu]\ndefault_vcpus=two\n", "default_vcpus: 'two' is not an integer"},
                {"[hypervisor.qemu]\ndefault_vcpus=-1\n", "default_vcpus: '-1' is not an integer"},
                {"[hypervisor.qemu]\ndefault_memory=16\n",
                 "default_memory: '16' is not an integer in 64..1048576"},
                {"[hypervisor.qemu]\ndefault_memory=2G\n", "default_memory: '2G'"},
                {"[hypervisor.qemu]\nmachine_type=pc\n", "machine_type: 'pc' is not one of microvm, q35"},
                {"[hypervisor.qemu]\naccel=xen\n", "accel: 'xen' is not one of kvm, tcg, auto"},
                {"[hypervisor.qemu]\nshared_fs=nfs\n",
                 "shared_fs: 'nfs' is not one of virtio-fs, virtio-9p, none"},
                {"[hypervisor.qemu]\nvirtio_fs_cache=sometimes\n",
                 "virtio_fs_cache: 'sometimes' is not one of"},
                {"[hypervisor.qemu]\npath=qemu-system-x86_64\n",
                 "path: 'qemu-system-x86_64' is not an absolute path"},
                {"[hypervisor.qemu]\ninitrd=/a/../b\n", "initrd: '/a/../b' is not an absolute path"},
                {"[hypervisor.qemu]\nkernel=\"/boot/vmlinuz\"\n", "kernel: values are not quoted"},
                {"[hypervisor.qemu]\nenable_debug=yes\n", "enable_debug: 'yes' is not true or false"},
                {"[hypervisor.qemu]\nenable_annotations=(\n", "'(' is not a valid regular expression"},
                {"[hypervisor.qemu]\nenable_annotations=[\"kernel_params\"]\n", "lists are written a;b;c"},
                {"[hypervisor.qemu]\nmachine_type=q35\ndefault_vcpus=4\ndefault_maxvcpus=2\n",
                 "default_maxvcpus (2) is less than default_vcpus (4)"},
                {"[hypervisor.qemu]\ndefault_vcpus=1\ndefault_maxvcpus=2\n", "microvm has no CPU hot-plug"},
                {"[hypervisor.qemu]\ncpu_features=pmu=off, +x\n",
                 "cpu_features must be a comma-separated list"},
                {"[runtime]\nvm_start_timeout=0\n", "vm_start_timeout: '0' is not an integer in 1..3600"},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                KcVmConfig *c = NULL;

                g_assert_cmpint(load(cases[i].text, &c), ==, -EINVAL);
                g_assert_null(c);
                if (!strstr(logged->str, cases[i].message))
                        g_error("case %zu: expected '%s' in '%s'", i, cases[i].message, logged->str);
        }
}

static void test_load_file(void) {
        g_autofree char *dir = g_dir_make_tmp("kc-vmconf-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "kata-conmon.conf", NULL);
        g_autofree char *missing = g_build_filename(dir, "missing.conf", NULL);
        g_autoptr(KcVmConfig) c = NULL;
        KcVmConfig *none = NULL;

        g_assert_true(g_file_set_contents(path, "[hypervisor.qemu]\ndefault_memory=256\n", -1, NULL));
        setup_log();
        g_assert_cmpint(kc_vm_config_load_file(path, false, &c), ==, 0);
        g_assert_cmpuint(c->default_memory, ==, 256);
        g_clear_pointer(&c, kc_vm_config_free);

        g_assert_cmpint(kc_vm_config_load_file(missing, true, &c), ==, 0);
        g_assert_cmpuint(c->default_memory, ==, 2048);
        g_assert_cmpint(kc_vm_config_load_file(missing, false, &none), ==, -ENOENT);
        g_assert_null(none);

        /* KATA_CONMON_CONF must exist when set; KATA_CONMON_VM_RUN_DIR overrides vm_run_dir. */
        g_clear_pointer(&c, kc_vm_config_free);
        g_setenv("KATA_CONMON_CONF", path, true);
        g_setenv("KATA_CONMON_VM_RUN_DIR", "/tmp/kc-vm-test", true);
        g_assert_cmpint(kc_vm_config_load(&c), ==, 0);
        g_assert_cmpuint(c->default_memory, ==, 256);
        g_assert_cmpstr(c->vm_run_dir, ==, "/tmp/kc-vm-test");
        g_setenv("KATA_CONMON_VM_RUN_DIR", "relative", true);
        g_assert_cmpint(kc_vm_config_load(&none), ==, -EINVAL);
        g_setenv("KATA_CONMON_CONF", missing, true);
        g_unsetenv("KATA_CONMON_VM_RUN_DIR");
        g_assert_cmpint(kc_vm_config_load(&none), ==, -ENOENT);
        /* The drop-in names the default path explicitly: absent, it means the defaults. */
        if (!g_file_test(KC_VM_CONFIG_PATH, G_FILE_TEST_EXISTS)) {
                g_autoptr(KcVmConfig) dflt = NULL;
                g_setenv("KATA_CONMON_CONF", KC_VM_CONFIG_PATH, true);
                g_assert_cmpint(kc_vm_config_load(&dflt), ==, 0);
                g_assert_nonnull(dflt);
        }
        g_assert_nonnull(strstr(logged->str, "missing.conf"));
        g_unsetenv("KATA_CONMON_CONF");

        g_assert_cmpint(g_unlink(path), ==, 0);
        g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_enums(void) {
        g_assert_cmpint(kc_vm_resolve_accel(KC_ACCEL_AUTO, true), ==, KC_ACCEL_KVM);
        g_assert_cmpint(kc_vm_resolve_accel(KC_ACCEL_AUTO, false), ==, KC_ACCEL_TCG);
        g_assert_cmpint(kc_vm_resolve_accel(KC_ACCEL_KVM, false), ==, KC_ACCEL_KVM);
        g_assert_cmpint(kc_vm_resolve_accel(KC_ACCEL_TCG, true), ==, KC_ACCEL_TCG);
        g_assert_cmpstr(kc_machine_type_to_string(KC_MACHINE_Q35), ==, "q35");
        g_assert_cmpstr(kc_shared_fs_to_string(KC_SHARED_FS_VIRTIO_9P), ==, "virtio-9p");
        g_assert_cmpstr(kc_accel_to_string(KC_ACCEL_AUTO), ==, "auto");
        g_assert_cmpint(kc_shared_fs_from_string("none"), ==, KC_SHARED_FS_NONE);
        g_assert_cmpint(kc_machine_type_from_string(NULL), ==, -EINVAL);
}

static void test_host_tsc(void) {
#if defined(__x86_64__)
        /* TCG guests are told this frequency: it must be the TSC's, of a plausible magnitude. */
        unsigned a = kc_vm_host_tsc_khz(), b = kc_vm_host_tsc_khz();

        g_assert_cmpuint(a, >, 100 * 1000);
        g_assert_cmpuint(a, <, 10 * 1000 * 1000);
        g_assert_cmpuint(a > b ? a - b : b - a, <, a / 100);
#else
        g_test_skip("the TSC is x86-only");
#endif
}

static GHashTable *annotations(const char *first, ...) {
        GHashTable *h = g_hash_table_new(g_str_hash, g_str_equal);
        va_list ap;

        va_start(ap, first);
        for (const char *k = first; k; k = va_arg(ap, const char *))
                g_hash_table_insert(h, (char *) k, va_arg(ap, char *));
        va_end(ap);
        return h;
}

#define HV "io.katacontainers.config.hypervisor."

static void test_annotations(void) {
        g_autoptr(KcVmConfig) c = NULL;
        g_autoptr(GHashTable) a = NULL;

        g_assert_cmpint(load("[hypervisor.qemu]\nkernel_params=quiet\n", &c), ==, 0);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, NULL), ==, 0);

        /* kernel_params is enabled by default and appended; foreign and informational ones are ignored */
        a = annotations(HV "kernel_params", "agent.log=debug", "io.kubernetes.cri-o.ContainerType",
                        "sandbox", "io.katacontainers.pkg.oci.bundle_path", "/b", NULL);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, a), ==, 0);
        g_assert_cmpstr(c->kernel_params, ==, "quiet agent.log=debug");
        g_clear_pointer(&a, g_hash_table_unref);

        /* not enabled */
        setup_log();
        a = annotations(HV "default_memory", "4096", NULL);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, a), ==, -EPERM);
        g_assert_nonnull(strstr(logged->str, HV "default_memory is not allowed: add 'default_memory' to "
                                                "enable_annotations"));
        g_assert_cmpuint(c->default_memory, ==, 2048);
        g_clear_pointer(&a, g_hash_table_unref);

        /* a regex enables a family; the regex is anchored ("default_m" alone does not match) */
        g_strfreev(c->enable_annotations);
        c->enable_annotations = g_strsplit("default_m;default_.*cpus", ";", -1);
        a = annotations(HV "default_vcpus", "2", HV "default_max_vcpus", "2", NULL);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, a), ==, 0);
        g_assert_cmpuint(c->default_vcpus, ==, 2);
        g_assert_cmpuint(c->default_maxvcpus, ==, 2);
        g_clear_pointer(&a, g_hash_table_unref);
        a = annotations(HV "default_memory", "4096", NULL);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, a), ==, -EPERM);
        g_clear_pointer(&a, g_hash_table_unref);

        /* enabled, but a bad value */
        setup_log();
        a = annotations(HV "default_vcpus", "lots", NULL);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, a), ==, -EINVAL);
        g_assert_nonnull(strstr(logged->str,
                                "annotation " HV "default_vcpus: [hypervisor.qemu] default_vcpus: "
                                "'lots' is not an integer"));
        g_clear_pointer(&a, g_hash_table_unref);

        /* microvm cannot get more max vCPUs than vCPUs: validated after the overrides */
        a = annotations(HV "default_max_vcpus", "8", NULL);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, a), ==, -EINVAL);
        g_clear_pointer(&a, g_hash_table_unref);
        c->default_maxvcpus = 0; /* a failed apply leaves the config half-modified: callers discard it */

        /* unsupported names are rejected, whatever enable_annotations says */
        g_strfreev(c->enable_annotations);
        c->enable_annotations = g_strsplit(".*", ";", -1);
        setup_log();
        a = annotations(HV "enable_iommu", "true", NULL);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, a), ==, -EINVAL);
        g_assert_nonnull(strstr(logged->str, HV "enable_iommu is not supported by kata-conmon"));
        g_clear_pointer(&a, g_hash_table_unref);
        a = annotations("io.katacontainers.config.runtime.sandbox_cgroup_only", "true", NULL);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, a), ==, -EINVAL);
        g_clear_pointer(&a, g_hash_table_unref);

        /* path-like annotations must match the valid_*_paths globs */
        setup_log();
        a = annotations(HV "path", "/tmp/evil-qemu", NULL);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, a), ==, -EPERM);
        g_assert_nonnull(strstr(logged->str, "'/tmp/evil-qemu' does not match valid_hypervisor_paths"));
        g_clear_pointer(&a, g_hash_table_unref);
        g_strfreev(c->valid_hypervisor_paths);
        c->valid_hypervisor_paths = g_strsplit("/opt/qemu-*/bin/qemu-system-x86_64", ";", -1);
        a = annotations(HV "path", "/opt/qemu-8/bin/qemu-system-x86_64", HV "machine_type", "q35",
                        HV "shared_fs", "none", NULL);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, a), ==, 0);
        g_assert_cmpstr(c->qemu_path, ==, "/opt/qemu-8/bin/qemu-system-x86_64");
        g_assert_cmpint(c->machine_type, ==, KC_MACHINE_Q35);
        g_assert_cmpint(c->shared_fs, ==, KC_SHARED_FS_NONE);
        g_clear_pointer(&a, g_hash_table_unref);
        a = annotations(HV "virtio_fs_daemon", "/usr/bin/virtiofsd-evil", NULL);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, a), ==, -EPERM);
        g_clear_pointer(&a, g_hash_table_unref);
        a = annotations(HV "virtio_fs_extra_args", "--thread-pool-size=1  --xattr", NULL);
        g_assert_cmpint(kc_vm_config_apply_annotations(c, a), ==, 0);
        g_assert_cmpuint(g_strv_length(c->virtio_fs_extra_args), ==, 2);
        g_assert_cmpstr(c->virtio_fs_extra_args[1], ==, "--xattr");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/vm-config/defaults", test_defaults);
        g_test_add_func("/vm-config/overrides", test_overrides);
        g_test_add_func("/vm-config/explicit-kernel", test_explicit_kernel);
        g_test_add_func("/vm-config/malformed", test_malformed);
        g_test_add_func("/vm-config/unknown-key-warns", test_unknown_key_warns);
        g_test_add_func("/vm-config/bad-values", test_bad_values);
        g_test_add_func("/vm-config/load-file", test_load_file);
        g_test_add_func("/vm-config/enums", test_enums);
        g_test_add_func("/vm-config/annotations", test_annotations);
        g_test_add_func("/vm-config/host-tsc", test_host_tsc);
        return g_test_run();
}
