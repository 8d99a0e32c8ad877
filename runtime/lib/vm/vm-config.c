/* kata-conmon.conf: defaults, GKeyFile parsing with strict per-key validation, loading order. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "vm-config.h"
#include "vm-config-internal.h"

#define CONFIG_MAX_SIZE (1024 * 1024)

const char *kc_machine_type_to_string(KcMachineType t) {
        return t == KC_MACHINE_Q35 ? "q35" : "microvm";
}

int kc_machine_type_from_string(const char *s) {
        if (g_strcmp0(s, "microvm") == 0)
                return KC_MACHINE_MICROVM;
        if (g_strcmp0(s, "q35") == 0)
                return KC_MACHINE_Q35;
        return -EINVAL;
}

const char *kc_accel_to_string(KcAccel a) {
        switch (a) {
        case KC_ACCEL_KVM:
                return "kvm";
        case KC_ACCEL_TCG:
                return "tcg";
        default:
                return "auto";
        }
}

int kc_accel_from_string(const char *s) {
        if (g_strcmp0(s, "kvm") == 0)
                return KC_ACCEL_KVM;
        if (g_strcmp0(s, "tcg") == 0)
                return KC_ACCEL_TCG;
        if (g_strcmp0(s, "auto") == 0)
                return KC_ACCEL_AUTO;
        return -EINVAL;
}

const char *kc_shared_fs_to_string(KcSharedFs f) {
        switch (f) {
        case KC_SHARED_FS_VIRTIO_FS:
                return "virtio-fs";
        case KC_SHARED_FS_VIRTIO_9P:
                return "virtio-9p";
        default:
                return "none";
        }
}

int kc_shared_fs_from_string(const char *s) {
        if (g_strcmp0(s, "virtio-fs") == 0)
                return KC_SHARED_FS_VIRTIO_FS;
        if (g_strcmp0(s, "virtio-9p") == 0)
                return KC_SHARED_FS_VIRTIO_9P;
        if (g_strcmp0(s, "none") == 0)
                return KC_SHARED_FS_NONE;
        return -EINVAL;
}

KcAccel kc_vm_resolve_accel(KcAccel configured, bool kvm_usable) {
        if (configured == KC_ACCEL_AUTO)
                return kvm_usable ? KC_ACCEL_KVM : KC_ACCEL_TCG;
        return configured;
}

/* RHEL/RHCOS ship the Rust virtiofsd here, Debian the C one in QEMU's directory. */
static const char *const virtiofsd_paths[] = {"/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd", NULL};

KcVmConfig *kc_vm_config_new_default(void) {
        KcVmConfig *c = g_new0(KcVmConfig, 1);
        const char *vfsd = virtiofsd_paths[0];

        for (size_t i = 0; virtiofsd_paths[i]; i++)
                if (access(virtiofsd_paths[i], X_OK) == 0) {
                        vfsd = virtiofsd_paths[i];
                        break;
                }

        c->qemu_path = g_strdup("/usr/bin/qemu-system-x86_64");
        c->image_cache_dir = g_strdup("/var/cache/kata-conmon");
        c->kernel = g_strdup("/var/cache/kata-conmon/kernel");
        c->initrd = g_strdup("/var/cache/kata-conmon/initrd");
        c->machine_type = KC_MACHINE_MICROVM;
        c->accel = KC_ACCEL_KVM;
        c->cpu_features = g_strdup("pmu=off");
        c->default_vcpus = 1;
        c->default_maxvcpus = 0;
        c->default_memory = 2048;
        c->shared_fs = KC_SHARED_FS_VIRTIO_FS;
        c->virtio_fs_daemon = g_strdup(vfsd);
        c->virtio_fs_cache = g_strdup("auto");
        c->virtio_fs_extra_args = g_new0(char *, 1);
        c->msize_9p = 8192;
        c->virtio_fs_read_ahead_kb = 4096;
        c->kernel_params = g_strdup("");
        c->enable_annotations = g_strsplit("kernel_params", ";", -1);
        c->valid_hypervisor_paths = g_strsplit("/usr/bin/qemu-system-x86_64;/usr/libexec/qemu-kvm", ";", -1);
        c->valid_virtio_fs_daemon_paths = g_strdupv((char **) virtiofsd_paths);
        c->runtime_root = g_strdup("/run/kata-conmon");
        c->vm_run_dir = g_strdup("/run/kata-containers/kata-conmon");
        c->vm_start_timeout = 60;
        return c;
}

void kc_vm_config_free(KcVmConfig *c) {
        if (!c)
                return;
        g_free(c->qemu_path);
        g_free(c->kernel);
        g_free(c->initrd);
        g_free(c->cpu_features);
        g_free(c->virtio_fs_daemon);
        g_free(c->virtio_fs_cache);
        g_strfreev(c->virtio_fs_extra_args);
        g_free(c->kernel_params);
        g_strfreev(c->enable_annotations);
        g_strfreev(c->valid_hypervisor_paths);
        g_strfreev(c->valid_virtio_fs_daemon_paths);
        g_free(c->runtime_root);
        g_free(c->vm_run_dir);
        g_free(c->image_cache_dir);
        g_free(c);
}

#define F(member) offsetof(KcVmConfig, member)

const KcVmKey kc_vm_keys[] = {
        {"hypervisor.qemu", "path", KC_KEY_PATH, F(qemu_path), 0, 0},
        {"hypervisor.qemu", "kernel", KC_KEY_PATH, F(kernel), 0, 0},
        {"hypervisor.qemu", "initrd", KC_KEY_PATH, F(initrd), 0, 0},
        {"hypervisor.qemu", "machine_type", KC_KEY_MACHINE, F(machine_type), 0, 0},
        {"hypervisor.qemu", "accel", KC_KEY_ACCEL, F(accel), 0, 0},
        {"hypervisor.qemu", "cpu_features", KC_KEY_STRING, F(cpu_features), 0, 256},
        {"hypervisor.qemu", "default_vcpus", KC_KEY_UINT, F(default_vcpus), 1, KC_VM_MAX_VCPUS},
        {"hypervisor.qemu", "default_maxvcpus", KC_KEY_UINT, F(default_maxvcpus), 0, KC_VM_MAX_VCPUS},
        {"hypervisor.qemu", "default_memory", KC_KEY_UINT, F(default_memory), KC_VM_MIN_MEMORY,
         KC_VM_MAX_MEMORY},
        {"hypervisor.qemu", "shared_fs", KC_KEY_SHARED_FS, F(shared_fs), 0, 0},
        {"hypervisor.qemu", "virtio_fs_daemon", KC_KEY_PATH, F(virtio_fs_daemon), 0, 0},
        {"hypervisor.qemu", "virtio_fs_cache", KC_KEY_FS_CACHE, F(virtio_fs_cache), 0, 0},
        {"hypervisor.qemu", "virtio_fs_extra_args", KC_KEY_STRV, F(virtio_fs_extra_args), 0, 0},
        {"hypervisor.qemu", "msize_9p", KC_KEY_UINT, F(msize_9p), 4096, 1048576},
        {"hypervisor.qemu", "virtio_fs_read_ahead_kb", KC_KEY_UINT, F(virtio_fs_read_ahead_kb), 0, 65536},
        {"hypervisor.qemu", "kernel_params", KC_KEY_STRING, F(kernel_params), 0, KC_VM_MAX_KERNEL_PARAMS},
        {"hypervisor.qemu", "enable_annotations", KC_KEY_REGEXV, F(enable_annotations), 0, 0},
        {"hypervisor.qemu", "valid_hypervisor_paths", KC_KEY_STRV, F(valid_hypervisor_paths), 0, 0},
        {"hypervisor.qemu", "valid_virtio_fs_daemon_paths", KC_KEY_STRV, F(valid_virtio_fs_daemon_paths), 0,
         0},
        {"hypervisor.qemu", "enable_debug", KC_KEY_BOOL, F(enable_debug), 0, 0},
        {"hypervisor.qemu", "disable_selinux", KC_KEY_BOOL, F(disable_selinux), 0, 0},
        {"runtime", "runtime_root", KC_KEY_PATH, F(runtime_root), 0, 0},
        {"runtime", "vm_run_dir", KC_KEY_PATH, F(vm_run_dir), 0, 0},
        {"runtime", "image_cache_dir", KC_KEY_PATH, F(image_cache_dir), 0, 0},
        {"runtime", "vm_start_timeout", KC_KEY_UINT, F(vm_start_timeout), 1, 3600},
        {"runtime", "enable_debug", KC_KEY_BOOL, F(runtime_enable_debug), 0, 0},
        {"agent.kata", "enable_debug", KC_KEY_BOOL, F(agent_enable_debug), 0, 0},
        {},
};

const KcVmKey *kc_vm_key_find(const char *group, const char *key) {
        for (const KcVmKey *k = kc_vm_keys; k->group; k++)
                if (streq(k->group, group) && streq(k->key, key))
                        return k;
        return NULL;
}

static bool valid_regex(const char *re) {
        g_autoptr(GRegex) r = g_regex_new(re, 0, 0, NULL);
        return r != NULL;
}

/* Checks and stores one textual value. `origin` names the file or annotation in messages. */
int kc_vm_key_set(KcVmConfig *c, const KcVmKey *k, const char *value, const char *origin) {
        void *p = (char *) c + k->offset;
        int r;

        switch (k->type) {
        case KC_KEY_STRING:
        case KC_KEY_PATH:
        case KC_KEY_FS_CACHE:
                if (value[0] == '"')
                        return log_error_errno(
                                EINVAL, "%s: [%s] %s: values are not quoted in this file (write %s = value)",
                                origin, k->group, k->key, k->key);
                if (strlen(value) > (k->max ? k->max : 4096))
                        return log_error_errno(EINVAL, "%s: [%s] %s: value longer than %u bytes", origin,
                                               k->group, k->key, k->max ? k->max : 4096);
                if (k->type == KC_KEY_PATH &&
                    (value[0] != '/' || strstr(value, "/../") || g_str_has_suffix(value, "/..")))
                        return log_error_errno(EINVAL, "%s: [%s] %s: '%s' is not an absolute path", origin,
                                               k->group, k->key, value);
                if (k->type == KC_KEY_FS_CACHE && !streq(value, "auto") && !streq(value, "always") &&
                    !streq(value, "never"))
                        return log_error_errno(EINVAL, "%s: [%s] %s: '%s' is not one of auto, always, never",
                                               origin, k->group, k->key, value);
                if (strpbrk(value, "\n\r"))
                        return log_error_errno(EINVAL, "%s: [%s] %s: value contains a newline", origin,
                                               k->group, k->key);
                g_free(*(char **) p);
                *(char **) p = g_strdup(value);
                return 0;
        case KC_KEY_UINT: {
                guint64 v;
                g_autoptr(GError) error = NULL;

                if (!g_ascii_string_to_unsigned(value, 10, k->min, k->max, &v, &error))
                        return log_error_errno(EINVAL, "%s: [%s] %s: '%s' is not an integer in %u..%u",
                                               origin, k->group, k->key, value, k->min, k->max);
                *(unsigned *) p = (unsigned) v;
                return 0;
        }
        case KC_KEY_BOOL:
                if (streq(value, "true") || streq(value, "1"))
                        *(bool *) p = true;
                else if (streq(value, "false") || streq(value, "0"))
                        *(bool *) p = false;
                else
                        return log_error_errno(EINVAL, "%s: [%s] %s: '%s' is not true or false", origin,
                                               k->group, k->key, value);
                return 0;
        case KC_KEY_MACHINE:
                r = kc_machine_type_from_string(value);
                if (r < 0)
                        return log_error_errno(EINVAL, "%s: [%s] %s: '%s' is not one of microvm, q35",
                                               origin, k->group, k->key, value);
                *(KcMachineType *) p = r;
                return 0;
        case KC_KEY_ACCEL:
                r = kc_accel_from_string(value);
                if (r < 0)
                        return log_error_errno(EINVAL, "%s: [%s] %s: '%s' is not one of kvm, tcg, auto",
                                               origin, k->group, k->key, value);
                *(KcAccel *) p = r;
                return 0;
        case KC_KEY_SHARED_FS:
                r = kc_shared_fs_from_string(value);
                if (r < 0)
                        return log_error_errno(EINVAL,
                                               "%s: [%s] %s: '%s' is not one of virtio-fs, virtio-9p, none",
                                               origin, k->group, k->key, value);
                *(KcSharedFs *) p = r;
                return 0;
        case KC_KEY_STRV:
        case KC_KEY_REGEXV:
                /* Lists come from g_key_file_get_string_list(); see load_keyfile(). */
                break;
        }
        return log_error_errno(EINVAL, "%s: [%s] %s: internal: not a scalar key", origin, k->group, k->key);
}

static int set_list(KcVmConfig *c, const KcVmKey *k, char **list, const char *origin) {
        char ***p = (char ***) ((char *) c + k->offset);

        for (char **s = list; *s; s++) {
                if ((*s)[0] == '"' || (*s)[0] == '[')
                        return log_error_errno(
                                EINVAL, "%s: [%s] %s: lists are written a;b;c, without quotes or brackets",
                                origin, k->group, k->key);
                if (k->type == KC_KEY_REGEXV && !valid_regex(*s))
                        return log_error_errno(EINVAL, "%s: [%s] %s: '%s' is not a valid regular expression",
                                               origin, k->group, k->key, *s);
        }
        g_strfreev(*p);
        *p = g_strdupv(list);
        return 0;
}

static int load_keyfile(KcVmConfig *c, GKeyFile *kf, const char *origin) {
        g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
        int r;

        for (char **g = groups; *g; g++) {
                g_auto(GStrv) keys = g_key_file_get_keys(kf, *g, NULL, NULL);

                for (char **key = keys; key && *key; key++) {
                        const KcVmKey *k = kc_vm_key_find(*g, *key);
                        g_autoptr(GError) error = NULL;

                        if (!k) {
                                log_warning("%s: unknown key '%s' in [%s], ignored", origin, *key, *g);
                                continue;
                        }
                        if (k->type == KC_KEY_STRV || k->type == KC_KEY_REGEXV) {
                                g_auto(GStrv) list = g_key_file_get_string_list(kf, *g, *key, NULL, &error);
                                if (!list)
                                        return log_error_errno(EINVAL, "%s: [%s] %s: %s", origin, *g, *key,
                                                               error->message);
                                r = set_list(c, k, list, origin);
                        } else {
                                g_autofree char *v = g_key_file_get_string(kf, *g, *key, &error);
                                if (!v)
                                        return log_error_errno(EINVAL, "%s: [%s] %s: %s", origin, *g, *key,
                                                               error->message);
                                r = kc_vm_key_set(c, k, v, origin);
                        }
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int kc_vm_config_validate(const KcVmConfig *c, const char *origin) {
        if (c->default_maxvcpus != 0 && c->default_maxvcpus < c->default_vcpus)
                return log_error_errno(EINVAL, "%s: default_maxvcpus (%u) is less than default_vcpus (%u)",
                                       origin, c->default_maxvcpus, c->default_vcpus);
        if (c->machine_type == KC_MACHINE_MICROVM && c->default_maxvcpus > c->default_vcpus)
                return log_error_errno(EINVAL,
                                       "%s: machine_type microvm has no CPU hot-plug: default_maxvcpus (%u) "
                                       "must be 0 or default_vcpus (%u)",
                                       origin, c->default_maxvcpus, c->default_vcpus);
        if (!c->cpu_features || strpbrk(c->cpu_features, " \t"))
                return log_error_errno(
                        EINVAL, "%s: cpu_features must be a comma-separated list without spaces", origin);
        return 0;
}

int kc_vm_config_load_data(const char *data, size_t len, const char *origin, KcVmConfig **ret) {
        g_autoptr(KcVmConfig) c = kc_vm_config_new_default();
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) error = NULL;
        int r;

        if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &error))
                return log_error_errno(EINVAL, "%s: malformed configuration: %s", origin, error->message);
        r = load_keyfile(c, kf, origin);
        if (r < 0)
                return r;
        /* kernel and initrd default to the image builder's output in image_cache_dir. */
        if (!g_key_file_has_key(kf, "hypervisor.qemu", "kernel", NULL)) {
                g_free(c->kernel);
                c->kernel = g_build_filename(c->image_cache_dir, "kernel", NULL);
        }
        if (!g_key_file_has_key(kf, "hypervisor.qemu", "initrd", NULL)) {
                g_free(c->initrd);
                c->initrd = g_build_filename(c->image_cache_dir, "initrd", NULL);
        }
        r = kc_vm_config_validate(c, origin);
        if (r < 0)
                return r;
        *ret = g_steal_pointer(&c);
        return 0;
}

int kc_vm_config_load_file(const char *path, bool missing_ok, KcVmConfig **ret) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r;

        r = read_file_bounded(path, CONFIG_MAX_SIZE, &data, &len);
        if (r == -ENOENT && missing_ok) {
                *ret = kc_vm_config_new_default();
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read configuration %s: %m", path);
        return kc_vm_config_load_data(data, len, path, ret);
}

int kc_vm_config_load(KcVmConfig **ret) {
        const char *env = getenv(KC_VM_CONFIG_ENV);
        const char *run_dir = getenv(KC_VM_RUN_DIR_ENV);
        g_autoptr(KcVmConfig) c = NULL;
        int r;

        /* An explicit file must exist, except the default path itself: the CRI-O drop-in names
         * it in monitor_env, and a node without a config file runs with the defaults. */
        if (env && env[0])
                r = kc_vm_config_load_file(env, streq(env, KC_VM_CONFIG_PATH), &c);
        else
                r = kc_vm_config_load_file(KC_VM_CONFIG_PATH, true, &c);
        if (r < 0)
                return r;
        if (run_dir && run_dir[0]) {
                if (run_dir[0] != '/')
                        return log_error_errno(EINVAL, "%s: '%s' is not an absolute path", KC_VM_RUN_DIR_ENV,
                                               run_dir);
                g_free(c->vm_run_dir);
                c->vm_run_dir = g_strdup(run_dir);
        }
        *ret = g_steal_pointer(&c);
        return 0;
}
