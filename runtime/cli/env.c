/* `kata-runtime env`: the effective configuration (kata-conmon.conf plus defaults) as JSON. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "config.h"
#include "oci-features.h"
#include "kata-runtime.h"
#include "log.h"
#include "vm-config.h"

static JsonArray *strv_array(char **v) {
        JsonArray *a = json_array_new();
        for (; v && *v; v++)
                json_array_add_string_element(a, *v);
        return a;
}

static void set_str(JsonObject *o, const char *name, const char *v) {
        if (v)
                json_object_set_string_member(o, name, v);
        else
                json_object_set_null_member(o, name);
}

static JsonObject *hypervisor_json(const KcVmConfig *c, bool kvm_usable) {
        JsonObject *h = json_object_new();

        set_str(h, "path", c->qemu_path);
        set_str(h, "kernel", c->kernel);
        set_str(h, "initrd", c->initrd);
        set_str(h, "machine_type", kc_machine_type_to_string(c->machine_type));
        set_str(h, "accel", kc_accel_to_string(c->accel));
        set_str(h, "effective_accel", kc_accel_to_string(kc_vm_resolve_accel(c->accel, kvm_usable)));
        set_str(h, "cpu_features", c->cpu_features);
        json_object_set_int_member(h, "default_vcpus", c->default_vcpus);
        json_object_set_int_member(h, "default_maxvcpus", c->default_maxvcpus);
        json_object_set_int_member(h, "default_memory", c->default_memory);
        set_str(h, "shared_fs", kc_shared_fs_to_string(c->shared_fs));
        set_str(h, "virtio_fs_daemon", c->virtio_fs_daemon);
        set_str(h, "virtio_fs_cache", c->virtio_fs_cache);
        json_object_set_array_member(h, "virtio_fs_extra_args", strv_array(c->virtio_fs_extra_args));
        json_object_set_int_member(h, "msize_9p", c->msize_9p);
        json_object_set_int_member(h, "virtio_fs_read_ahead_kb", c->virtio_fs_read_ahead_kb);
        set_str(h, "kernel_params", c->kernel_params);
        json_object_set_array_member(h, "enable_annotations", strv_array(c->enable_annotations));
        json_object_set_array_member(h, "valid_hypervisor_paths", strv_array(c->valid_hypervisor_paths));
        json_object_set_array_member(h, "valid_virtio_fs_daemon_paths",
                                     strv_array(c->valid_virtio_fs_daemon_paths));
        json_object_set_boolean_member(h, "enable_debug", c->enable_debug);
        json_object_set_boolean_member(h, "disable_selinux", c->disable_selinux);
        return h;
}

int kr_env_build(KrContext *ctx, JsonObject **ret) {
        g_autoptr(KcVmConfig) c = NULL;
        JsonObject *o, *rt, *agent, *host, *files;
        const char *env = getenv(KC_VM_CONFIG_ENV);
        bool kvm;
        int r;

        r = kc_vm_config_load(&c);
        if (r < 0)
                return r;
        kvm = kc_vm_kvm_usable();

        o = json_object_new();
        files = json_object_new();
        set_str(files, "path", env && *env ? env : KC_VM_CONFIG_PATH);
        json_object_set_boolean_member(files, "from_environment", env && *env);
        json_object_set_boolean_member(files, "exists",
                                       access(env && *env ? env : KC_VM_CONFIG_PATH, F_OK) == 0);
        json_object_set_object_member(o, "config", files);

        json_object_set_object_member(o, "hypervisor", hypervisor_json(c, kvm));

        rt = json_object_new();
        set_str(rt, "version", PACKAGE_VERSION);
        set_str(rt, "commit", GIT_COMMIT);
        set_str(rt, "oci_spec", KR_OCI_VERSION_MAX);
        set_str(rt, "path", "/proc/self/exe");
        set_str(rt, "root", ctx->root);
        set_str(rt, "runtime_root", c->runtime_root);
        set_str(rt, "vm_run_dir", c->vm_run_dir);
        set_str(rt, "image_cache_dir", c->image_cache_dir);
        json_object_set_int_member(rt, "vm_start_timeout", c->vm_start_timeout);
        json_object_set_boolean_member(rt, "enable_debug", c->runtime_enable_debug);
        json_object_set_boolean_member(rt, "systemd_cgroup", ctx->systemd_cgroup);
        json_object_set_object_member(o, "runtime", rt);

        agent = json_object_new();
        json_object_set_boolean_member(agent, "enable_debug", c->agent_enable_debug);
        json_object_set_object_member(o, "agent", agent);

        host = json_object_new();
        json_object_set_boolean_member(host, "kvm_usable", kvm);
        json_object_set_object_member(o, "host", host);

        *ret = o;
        return 0;
}

int kr_cmd_env(KrContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        g_autoptr(JsonObject) o = NULL;
        g_autofree char *exe = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        break; /* JSON is the only format */
                case 'h':
                        printf("Usage: kata-runtime env [--json]\n");
                        return 0;
                default:
                        return log_error_errno(EINVAL, "env: unknown option");
                }
        r = kr_need_args(argc, argv, optind, 0, 0, "env [--json]");
        if (r < 0)
                return r;

        r = kr_env_build(ctx, &o);
        if (r < 0)
                return log_error_errno(r, "Failed to load the configuration: %m");
        exe = g_file_read_link("/proc/self/exe", NULL);
        if (exe)
                json_object_set_string_member(json_object_get_object_member(o, "runtime"), "path", exe);
        return kr_print_json(o, true);
}
