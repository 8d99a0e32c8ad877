/* `kata-runtime check`: can this host run pods? Each finding says what is wrong and how to fix it. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "config.h"
#if HAVE_SELINUX
#include <selinux/selinux.h>
#endif
#include "kata-runtime.h"
#include "log.h"
#include "vm-config.h"

typedef struct Report {
        unsigned failed, warned;
        bool quiet;
} Report;

static void _printf_(4, 5) finding(Report *rep, char kind, const char *fix, const char *format, ...) {
        g_autofree char *what = NULL;
        va_list ap;

        va_start(ap, format);
        what = g_strdup_vprintf(format, ap);
        va_end(ap);
        if (kind == 'F')
                rep->failed++;
        else if (kind == 'W')
                rep->warned++;
        else if (rep->quiet)
                return;
        printf("%s: %s\n", kind == 'F' ? "FAIL" : kind == 'W' ? "WARN" : "PASS", what);
        if (fix && kind != 'P')
                printf("      fix: %s\n", fix);
}

static bool is_executable(const char *path) {
        struct stat st;
        return path && stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static bool is_readable_file(const char *path) {
        struct stat st;
        return path && stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
               access(path, R_OK) == 0;
}

static bool path_in(const char *path, char **list) {
        for (; list && *list; list++)
                if (strcmp(*list, path) == 0)
                        return true;
        return false;
}

static void check_accel(Report *rep, const KcVmConfig *c) {
        bool kvm = kc_vm_kvm_usable();

        switch (c->accel) {
        case KC_ACCEL_KVM:
                if (kvm)
                        finding(rep, 'P', NULL, "accelerator kvm: /dev/kvm is usable");
                else
                        finding(rep, 'F',
                                "enable virtualization in the firmware and load kvm_intel or kvm_amd "
                                "(modprobe), "
                                "give the user access to /dev/kvm, or set accel = tcg in [hypervisor.qemu] "
                                "(emulation, much slower)",
                                "accelerator kvm: /dev/kvm is missing or cannot run a guest");
                break;
        case KC_ACCEL_TCG:
                finding(rep, kvm ? 'W' : 'P', "set accel = kvm (or auto) in [hypervisor.qemu] for speed",
                        "accelerator tcg (emulation)%s", kvm ? " although KVM is usable" : "");
                break;
        case KC_ACCEL_AUTO:
                finding(rep, kvm ? 'P' : 'W',
                        "enable virtualization and load kvm_intel or kvm_amd for hardware acceleration",
                        "accelerator auto: %s", kvm ? "kvm" : "no usable KVM, falling back to tcg (slow)");
                break;
        }
}

static void check_files(Report *rep, const KcVmConfig *c) {
        g_autofree char *builder = g_build_filename(LIBEXECDIR, "kata-conmon-build-image", NULL);
        g_autofree char *build_fix = NULL;

        if (is_executable(c->qemu_path))
                finding(rep, 'P', NULL, "QEMU binary %s", c->qemu_path);
        else
                finding(rep, 'F',
                        "install QEMU (Debian: qemu-system-x86, RHEL: qemu-kvm) or set path in "
                        "[hypervisor.qemu]",
                        "QEMU binary %s is missing or not executable", c->qemu_path);
        if (c->valid_hypervisor_paths && c->valid_hypervisor_paths[0] &&
            !path_in(c->qemu_path, c->valid_hypervisor_paths))
                finding(rep, 'F', "add the path to valid_hypervisor_paths in [hypervisor.qemu]",
                        "QEMU binary %s is not listed in valid_hypervisor_paths", c->qemu_path);

        build_fix = g_strdup_printf(
                "%s %s --output-dir %s",
                is_executable(builder) ? "run" : "install kata-conmon's guest image builder and run",
                builder, c->image_cache_dir);
        if (is_readable_file(c->kernel))
                finding(rep, 'P', NULL, "guest kernel %s", c->kernel);
        else
                finding(rep, 'F', build_fix, "guest kernel %s is missing", c->kernel);
        if (is_readable_file(c->initrd))
                finding(rep, 'P', NULL, "guest initrd %s", c->initrd);
        else
                finding(rep, 'F', build_fix, "guest initrd %s is missing", c->initrd);

        if (c->shared_fs == KC_SHARED_FS_VIRTIO_FS) {
                if (is_executable(c->virtio_fs_daemon))
                        finding(rep, 'P', NULL, "virtiofsd %s", c->virtio_fs_daemon);
                else
                        finding(rep, 'F',
                                "install virtiofsd (Debian: qemu-system-common ships "
                                "/usr/lib/qemu/virtiofsd, "
                                "RHEL: virtiofsd) or set virtio_fs_daemon in [hypervisor.qemu]",
                                "virtiofsd %s is missing or not executable", c->virtio_fs_daemon);
        }
}

static void check_cgroups(Report *rep) {
        struct statfs fs;

        if (statfs("/sys/fs/cgroup", &fs) < 0)
                finding(rep, 'F', "mount cgroup2 on /sys/fs/cgroup", "/sys/fs/cgroup is not mounted");
        else if (fs.f_type == CGROUP2_SUPER_MAGIC)
                finding(rep, 'P', NULL, "cgroups: unified (v2) hierarchy");
        else if (fs.f_type == TMPFS_MAGIC)
                finding(rep, 'P', NULL,
                        "cgroups: v1 (or hybrid) hierarchy; containers use the guest's cgroup2");
        else
                finding(rep, 'F', "mount cgroup2 on /sys/fs/cgroup",
                        "/sys/fs/cgroup is not a cgroup filesystem");
}

static void check_dirs(Report *rep, KrContext *ctx, const KcVmConfig *c) {
        const char *dirs[] = {ctx->root, c->vm_run_dir};

        for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
                g_autofree char *parent = g_path_get_dirname(dirs[i]);
                const char *probe = access(dirs[i], F_OK) == 0 ? dirs[i] : parent;

                if (access(probe, W_OK) == 0 || (probe == parent && access(parent, F_OK) < 0))
                        finding(rep, 'P', NULL, "state directory %s is usable", dirs[i]);
                else
                        finding(rep, 'F', "run as root, or make the directory writable",
                                "%s is not writable", probe);
        }
}

static void check_selinux(Report *rep, const KcVmConfig *c) {
#if HAVE_SELINUX
        static const char *const types[] = {"container_kvm_t", "container_kvm_var_run_t",
                                            "container_runtime_t"};

        if (is_selinux_enabled() <= 0) {
                finding(rep, 'P', NULL, "SELinux is disabled on this host: no labels needed");
                return;
        }
        if (security_getenforce() != 1) {
                finding(rep, 'W', NULL, "SELinux is permissive: label problems would only be logged");
                return;
        }
        if (c->disable_selinux) {
                finding(rep, 'W', "remove disable_selinux from [hypervisor.qemu]",
                        "SELinux is enforcing but disable_selinux is set: QEMU runs without the pod's "
                        "label");
                return;
        }
        for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
                g_autofree char *ctx =
                        g_strdup_printf("system_u:%s:%s:s0", i == 1 ? "object_r" : "system_r", types[i]);
                if (security_check_context(ctx) == 0)
                        finding(rep, 'P', NULL, "SELinux type %s is loaded", types[i]);
                else
                        finding(rep, 'F',
                                "install container-selinux and load the kata_conmon policy module "
                                "(semodule -i kata_conmon.pp)",
                                "SELinux is enforcing and type %s is not in the loaded policy", types[i]);
        }
#else
        finding(rep, 'W', "rebuild with -Dselinux=enabled", "built without SELinux support");
#endif
}

int kr_cmd_check(KrContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"quiet", no_argument, NULL, 'q'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        g_autoptr(KcVmConfig) c = NULL;
        Report rep = {};
        int o, r;

        while ((o = getopt_long(argc, argv, "qh", options, NULL)) >= 0)
                switch (o) {
                case 'q':
                        rep.quiet = true;
                        break;
                case 'h':
                        printf("Usage: kata-runtime check [--quiet]\n");
                        return 0;
                default:
                        return log_error_errno(EINVAL, "check: unknown option");
                }
        r = kr_need_args(argc, argv, optind, 0, 0, "check [--quiet]");
        if (r < 0)
                return r;

        r = kc_vm_config_load(&c);
        if (r < 0) {
                finding(&rep, 'F', "correct the file named above (see docs/configuration.md)",
                        "the configuration does not load");
                return log_error_errno(EINVAL, "this host cannot run pods: 1 problem");
        }
        finding(&rep, 'P', NULL, "configuration loads");
        check_accel(&rep, c);
        check_files(&rep, c);
        check_cgroups(&rep);
        check_dirs(&rep, ctx, c);
        check_selinux(&rep, c);

        if (rep.failed > 0)
                return log_error_errno(EINVAL, "this host cannot run pods: %u problem%s", rep.failed,
                                       rep.failed == 1 ? "" : "s");
        printf("this host can run pods%s\n", rep.warned ? " (see the warnings)" : "");
        return 0;
}
