/* Unit tests for the QEMU argv builder: microvm/q35, tcg/kvm, virtio-fs/9p/none, fds/paths, errors. */
#include <glib.h>
#include <string.h>

#include "log.h"
#include "qemu-argv.h"
#include "vm-config.h"

static GString *logged;

static void capture_sink(const KcLogRecord *rec, void *userdata) {
        g_string_append_printf(logged, "%s\n", rec->message);
}

static KcVmConfig *config(const char *text) {
        KcVmConfig *c = NULL;

        g_assert_cmpint(kc_vm_config_load_data(text, strlen(text), "test.conf", &c), ==, 0);
        return c;
}

/* The value following the n-th occurrence of `opt`, or NULL. */
static const char *value_of(char **argv, const char *opt, unsigned nth) {
        for (char **a = argv; *a; a++)
                if (strcmp(*a, opt) == 0 && a[1] && nth-- == 0)
                        return a[1];
        return NULL;
}

static bool has_value(char **argv, const char *opt, const char *value) {
        for (unsigned i = 0; value_of(argv, opt, i); i++)
                if (strcmp(value_of(argv, opt, i), value) == 0)
                        return true;
        return false;
}

static bool has_arg(char **argv, const char *arg) {
        return g_strv_contains((const char *const *) argv, arg);
}

static void assert_common(char **argv) {
        /* hardening and no daemonizing: the monitor supervises QEMU as its child */
        g_assert_true(has_value(argv, "-sandbox",
                                "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"));
        g_assert_true(has_arg(argv, "-nodefaults"));
        g_assert_true(has_arg(argv, "-no-user-config"));
        g_assert_true(has_arg(argv, "-nographic"));
        g_assert_false(has_arg(argv, "-daemonize"));
        g_assert_true(has_value(argv, "-serial", "chardev:kc-console"));
        g_assert_true(has_value(
                argv, "-device",
                "virtserialport,bus=kc-serial.0,chardev=kc-agent,id=kc-channel0,name=agent.channel.0"));
}

static KcVmParams params(KcAccel accel) {
        return (KcVmParams){
                .sandbox_id = "pod-1.a_b",
                .accel = accel,
                .agent = {.fd = 5, .path = NULL},
                .console = {.fd = 6, .path = NULL},
                .qmp = KC_VM_ENDPOINT_NONE,
                .virtio_fs_socket = "/run/kata-containers/kata-conmon/pod-1/virtiofsd.sock",
                .shared_dir = "/run/kata-containers/kata-conmon/pod-1/shared",
                .host_tsc_khz = 2600000,
        };
}

static void test_microvm_tcg_virtiofs(void) {
        g_autoptr(KcVmConfig) c =
                config("[hypervisor.qemu]\naccel=tcg\nkernel=/k/vmlinux\ninitrd=/k/initrd\n");
        KcVmParams p = params(KC_ACCEL_TCG);
        g_auto(GStrv) argv = NULL;
        const char *append;

        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, 0);
        assert_common(argv);
        g_assert_cmpstr(argv[0], ==, "/usr/bin/qemu-system-x86_64");
        g_assert_cmpstr(value_of(argv, "-name", 0), ==, "sandbox-pod-1.a_b");
        g_assert_cmpstr(value_of(argv, "-machine", 0), ==,
                        "microvm,accel=tcg,isa-serial=on,rtc=on,memory-backend=kc-ram");
        g_assert_cmpstr(value_of(argv, "-cpu", 0), ==, "max");
        g_assert_cmpstr(value_of(argv, "-m", 0), ==, "2048M");
        g_assert_true(has_value(argv, "-object", "memory-backend-memfd,id=kc-ram,size=2048M,share=on"));
        g_assert_cmpstr(value_of(argv, "-smp", 0), ==, "1");
        g_assert_cmpstr(value_of(argv, "-kernel", 0), ==, "/k/vmlinux");
        g_assert_cmpstr(value_of(argv, "-initrd", 0), ==, "/k/initrd");
        g_assert_true(has_value(argv, "-chardev", "socket,id=kc-console,fd=6"));
        g_assert_true(has_value(argv, "-chardev", "socket,id=kc-agent,fd=5"));
        g_assert_true(has_value(argv, "-device", "virtio-serial-device,id=kc-serial"));
        g_assert_true(has_value(
                argv, "-chardev",
                "socket,id=kc-virtiofs,path=/run/kata-containers/kata-conmon/pod-1/virtiofsd.sock"));
        g_assert_true(has_value(argv, "-device",
                                "vhost-user-fs-device,chardev=kc-virtiofs,tag=kataShared,queue-size=1024"));
        g_assert_null(value_of(argv, "-fsdev", 0));
        g_assert_null(value_of(argv, "-mon", 0));
        g_assert_cmpstr(value_of(argv, "-global", 0), ==, "virtio-mmio.force-legacy=false");
        g_assert_null(value_of(argv, "-global", 1));

        append = value_of(argv, "-append", 0);
        g_assert_nonnull(append);
        g_assert_true(g_str_has_prefix(append, "console=ttyS0 "));
        g_assert_nonnull(strstr(append, " tsc_early_khz=2600000"));
        g_assert_nonnull(strstr(append, " pci=off"));
        g_assert_nonnull(strstr(append, " quiet"));
        g_assert_null(strstr(append, "agent.log=debug"));
}

static void test_q35_kvm_9p_paths(void) {
        g_autoptr(KcVmConfig) c =
                config("[hypervisor.qemu]\nmachine_type=q35\nshared_fs=virtio-9p\ndefault_vcpus=2\n"
                       "default_maxvcpus=4\ndefault_memory=1024\nkernel_params=foo=bar\n"
                       "enable_debug=true\n[agent.kata]\nenable_debug=true\n");
        KcVmParams p = params(KC_ACCEL_KVM);
        g_auto(GStrv) argv = NULL;
        const char *append;

        p.agent = (KcVmEndpoint){.fd = -1, .path = "/run/x/agent.sock"};
        p.console = (KcVmEndpoint){.fd = -1, .path = "/run/x/console.sock"};
        p.qmp = (KcVmEndpoint){.fd = 9, .path = NULL};
        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, 0);
        assert_common(argv);
        g_assert_cmpstr(value_of(argv, "-machine", 0), ==, "q35,accel=kvm");
        g_assert_cmpstr(value_of(argv, "-cpu", 0), ==, "host,pmu=off");
        g_assert_cmpstr(value_of(argv, "-m", 0), ==, "1024M");
        g_assert_null(value_of(argv, "-object", 1)); /* only the rng: no shared memory backend for 9p */
        g_assert_cmpstr(value_of(argv, "-object", 0), ==, "rng-random,id=kc-rng,filename=/dev/urandom");
        g_assert_cmpstr(value_of(argv, "-smp", 0), ==, "2,cores=1,threads=1,sockets=4,maxcpus=4");
        g_assert_true(has_value(argv, "-global", "kvm-pit.lost_tick_policy=discard"));
        g_assert_false(has_value(argv, "-global", "virtio-mmio.force-legacy=false"));
        g_assert_true(has_value(argv, "-chardev",
                                "socket,id=kc-console,path=/run/x/console.sock,server=on,wait=off"));
        g_assert_true(
                has_value(argv, "-chardev", "socket,id=kc-agent,path=/run/x/agent.sock,server=on,wait=off"));
        g_assert_true(has_value(argv, "-device", "virtio-serial-pci,id=kc-serial"));
        g_assert_true(has_value(argv, "-fsdev",
                                "local,id=kc-9p,path=/run/kata-containers/kata-conmon/pod-1/shared,"
                                "security_model=none,multidevs=remap"));
        g_assert_true(has_value(argv, "-device", "virtio-9p-pci,fsdev=kc-9p,mount_tag=kataShared"));
        g_assert_true(has_value(argv, "-device", "virtio-rng-pci,rng=kc-rng"));
        g_assert_true(has_value(argv, "-chardev", "socket,id=kc-qmp,fd=9"));
        g_assert_true(has_value(argv, "-mon", "chardev=kc-qmp,mode=control"));

        append = value_of(argv, "-append", 0);
        g_assert_null(strstr(append, "tsc_early_khz")); /* KVM guests have kvmclock */
        g_assert_nonnull(strstr(append, " reboot=k"));
        g_assert_nonnull(strstr(append, " debug"));
        g_assert_null(strstr(append, " quiet"));
        g_assert_nonnull(strstr(append, " agent.log=debug"));
        g_assert_true(g_str_has_suffix(append, " foo=bar"));
}

static void test_microvm_kvm_9p_none(void) {
        g_autoptr(KcVmConfig) c = config("[hypervisor.qemu]\nshared_fs=virtio-9p\ncpu_features=\n");
        g_autoptr(KcVmConfig) none = config("[hypervisor.qemu]\nshared_fs=none\n");
        KcVmParams p = params(KC_ACCEL_KVM);
        g_auto(GStrv) argv = NULL, argv2 = NULL;

        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, 0);
        g_assert_cmpstr(value_of(argv, "-machine", 0), ==, "microvm,accel=kvm,isa-serial=on,rtc=on");
        g_assert_cmpstr(value_of(argv, "-cpu", 0), ==, "host");
        g_assert_true(has_value(argv, "-device", "virtio-9p-device,fsdev=kc-9p,mount_tag=kataShared"));
        g_assert_cmpstr(value_of(argv, "-global", 0), ==, "virtio-mmio.force-legacy=false");
        g_assert_null(value_of(argv, "-global", 1));

        /* per-sandbox sizes override the defaults; no shared fs at all */
        p.vcpus = 3;
        p.memory_mib = 300;
        g_assert_cmpint(kc_vm_qemu_argv(none, &p, &argv2), ==, 0);
        assert_common(argv2);
        g_assert_cmpstr(value_of(argv2, "-smp", 0), ==, "3");
        g_assert_cmpstr(value_of(argv2, "-m", 0), ==, "300M");
        g_assert_null(value_of(argv2, "-fsdev", 0));
        for (unsigned i = 0; value_of(argv2, "-device", i); i++) {
                g_assert_null(strstr(value_of(argv2, "-device", i), "vhost-user-fs"));
                g_assert_null(strstr(value_of(argv2, "-device", i), "9p"));
        }
}

static void test_comma_escaping(void) {
        g_autoptr(KcVmConfig) c = config("[hypervisor.qemu]\naccel=tcg\n");
        KcVmParams p = params(KC_ACCEL_TCG);
        g_auto(GStrv) argv = NULL;

        p.virtio_fs_socket = "/run/a,b/virtiofsd.sock";
        p.console = (KcVmEndpoint){.fd = -1, .path = "/run/a,b/console.sock"};
        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, 0);
        g_assert_true(has_value(argv, "-chardev", "socket,id=kc-virtiofs,path=/run/a,,b/virtiofsd.sock"));
        g_assert_true(has_value(argv, "-chardev",
                                "socket,id=kc-console,path=/run/a,,b/console.sock,server=on,wait=off"));
}

static void test_errors(void) {
        g_autoptr(KcVmConfig) c = config("[hypervisor.qemu]\naccel=tcg\n");
        g_autoptr(KcVmConfig) p9 = config("[hypervisor.qemu]\nshared_fs=virtio-9p\n");
        static const char *bad_ids[] = {NULL, "", "-x", "a b", "a/b", "../x", "a,b"};
        KcVmParams p;
        char **argv = NULL;

        kc_log_set_sink(capture_sink, NULL);
        kc_log_set_stderr(false);
        logged = g_string_new(NULL);

        for (size_t i = 0; i < G_N_ELEMENTS(bad_ids); i++) {
                p = params(KC_ACCEL_TCG);
                p.sandbox_id = bad_ids[i];
                g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, -EINVAL);
        }
        g_assert_nonnull(strstr(logged->str, "invalid sandbox id 'a b'"));

        p = params(KC_ACCEL_AUTO);
        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, -EINVAL);
        g_assert_nonnull(strstr(logged->str, "accelerator must be resolved"));

        p = params(KC_ACCEL_TCG);
        p.agent = KC_VM_ENDPOINT_NONE;
        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, -EINVAL);
        g_assert_nonnull(strstr(logged->str, "agent channel: neither an fd nor a path"));

        p = params(KC_ACCEL_TCG);
        p.console.path = "/run/console.sock";
        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, -EINVAL);
        g_assert_nonnull(strstr(logged->str, "console: both an fd and a path"));

        p = params(KC_ACCEL_TCG);
        p.agent = (KcVmEndpoint){.fd = -1, .path = "relative.sock"};
        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, -EINVAL);

        p = params(KC_ACCEL_TCG);
        p.virtio_fs_socket = NULL;
        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, -EINVAL);
        g_assert_nonnull(strstr(logged->str, "virtio-fs needs"));

        p = params(KC_ACCEL_TCG);
        p.shared_dir = NULL;
        g_assert_cmpint(kc_vm_qemu_argv(p9, &p, &argv), ==, -EINVAL);
        g_assert_nonnull(strstr(logged->str, "virtio-9p needs"));

        p = params(KC_ACCEL_TCG);
        p.memory_mib = 32;
        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, -EINVAL);
        p.memory_mib = 0;
        p.vcpus = 1000;
        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, -EINVAL);
        g_assert_null(argv);
        kc_log_set_sink(NULL, NULL);
        g_string_free(logged, true);
}

static void test_q35_vcpus_over_max(void) {
        g_autoptr(KcVmConfig) c = config("[hypervisor.qemu]\nmachine_type=q35\ndefault_maxvcpus=2\n");
        KcVmParams p = params(KC_ACCEL_KVM);
        g_auto(GStrv) argv = NULL;
        char **bad = NULL;

        p.vcpus = 2;
        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &argv), ==, 0);
        g_assert_cmpstr(value_of(argv, "-smp", 0), ==, "2");
        p.vcpus = 3;
        kc_log_set_stderr(false);
        g_assert_cmpint(kc_vm_qemu_argv(c, &p, &bad), ==, -EINVAL);
        g_assert_null(bad);
}

static void test_nics(void) {
        g_autoptr(KcVmConfig) micro = config("[hypervisor.qemu]\naccel=tcg\n");
        g_autoptr(KcVmConfig) q35 = config("[hypervisor.qemu]\nmachine_type=q35\n");
        static const KcVmNic nics[] = {{.tap_fd = 7, .mac = "0a:58:0a:d5:00:02"},
                                       {.tap_fd = 8, .mac = "AE:00:00:00:00:01"}};
        static const char *bad_macs[] = {NULL,
                                         "",
                                         "0a:58:0a:d5:00",
                                         "0a-58-0a-d5-00-02",
                                         "0a:58:0a:d5:00:0g",
                                         "01:00:5e:00:00:01",
                                         "0a:58:0a:d5:00:02,x=y"};
        KcVmParams p = params(KC_ACCEL_TCG);
        g_auto(GStrv) a1 = NULL, a2 = NULL, none = NULL;
        char **bad = NULL;
        KcVmNic nic;

        /* No NIC: no network device at all. */
        g_assert_cmpint(kc_vm_qemu_argv(micro, &p, &none), ==, 0);
        g_assert_null(value_of(none, "-netdev", 0));

        p.nics = nics;
        p.n_nics = 2;
        g_assert_cmpint(kc_vm_qemu_argv(micro, &p, &a1), ==, 0);
        g_assert_cmpstr(value_of(a1, "-netdev", 0), ==, "tap,id=kc-net0,fd=7,vhost=off");
        g_assert_cmpstr(value_of(a1, "-netdev", 1), ==, "tap,id=kc-net1,fd=8,vhost=off");
        g_assert_true(has_value(a1, "-device", "virtio-net-device,netdev=kc-net0,mac=0a:58:0a:d5:00:02"));
        g_assert_true(has_value(a1, "-device", "virtio-net-device,netdev=kc-net1,mac=AE:00:00:00:00:01"));
        p = params(KC_ACCEL_KVM);
        p.nics = nics;
        p.n_nics = 1;
        g_assert_cmpint(kc_vm_qemu_argv(q35, &p, &a2), ==, 0);
        g_assert_true(has_value(a2, "-device", "virtio-net-pci,netdev=kc-net0,mac=0a:58:0a:d5:00:02"));
        g_assert_null(value_of(a2, "-netdev", 1));

        kc_log_set_stderr(false);
        p = params(KC_ACCEL_TCG);
        p.nics = &nic;
        p.n_nics = 1;
        for (size_t i = 0; i < G_N_ELEMENTS(bad_macs); i++) {
                nic = (KcVmNic){.tap_fd = 7, .mac = bad_macs[i]};
                g_assert_cmpint(kc_vm_qemu_argv(micro, &p, &bad), ==, -EINVAL);
                g_assert_null(bad);
        }
        nic = (KcVmNic){.tap_fd = -1, .mac = "0a:58:0a:d5:00:02"};
        g_assert_cmpint(kc_vm_qemu_argv(micro, &p, &bad), ==, -EINVAL);
        p.nics = nics;
        p.n_nics = KC_VM_MAX_NICS + 1;
        g_assert_cmpint(kc_vm_qemu_argv(micro, &p, &bad), ==, -EINVAL);
        g_assert_null(bad);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/qemu-argv/microvm-tcg-virtiofs", test_microvm_tcg_virtiofs);
        g_test_add_func("/qemu-argv/q35-kvm-9p-paths", test_q35_kvm_9p_paths);
        g_test_add_func("/qemu-argv/microvm-kvm-9p-none", test_microvm_kvm_9p_none);
        g_test_add_func("/qemu-argv/comma-escaping", test_comma_escaping);
        g_test_add_func("/qemu-argv/errors", test_errors);
        g_test_add_func("/qemu-argv/q35-vcpus-over-max", test_q35_vcpus_over_max);
        g_test_add_func("/qemu-argv/nics", test_nics);
        return g_test_run();
}
