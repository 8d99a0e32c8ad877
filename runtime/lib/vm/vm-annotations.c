/* io.katacontainers.* annotations of a sandbox: overrides of kata-conmon.conf, gated by enable_annotations.
 */
#include <errno.h>
#include <fnmatch.h>

#include "log.h"
#include "vm-config-internal.h"

#define ANNOTATION_PREFIX "io.katacontainers."
#define HYPERVISOR_PREFIX "io.katacontainers.config.hypervisor."
/* Set by tools for information (bundle path, container type): never configuration. */
#define PKG_PREFIX "io.katacontainers.pkg."

typedef enum Restriction {
        FREE,
        HYPERVISOR_PATH,
        VIRTIO_FS_DAEMON_PATH,
} Restriction;

/* Kata's hypervisor annotation names we honour, and the kata-conmon.conf key each one sets. */
static const struct {
        const char *name;
        const char *key;
        Restriction restriction;
} hypervisor_annotations[] = {
        {"path", "path", HYPERVISOR_PATH},
        {"kernel_params", "kernel_params", FREE},
        {"machine_type", "machine_type", FREE},
        {"cpu_features", "cpu_features", FREE},
        {"default_vcpus", "default_vcpus", FREE},
        {"default_max_vcpus", "default_maxvcpus", FREE},
        {"default_memory", "default_memory", FREE},
        {"shared_fs", "shared_fs", FREE},
        {"virtio_fs_daemon", "virtio_fs_daemon", VIRTIO_FS_DAEMON_PATH},
        {"virtio_fs_cache", "virtio_fs_cache", FREE},
        {"virtio_fs_extra_args", "virtio_fs_extra_args", FREE},
        {"msize_9p", "msize_9p", FREE},
};

static bool name_enabled(char **patterns, const char *name) {
        for (char **p = patterns; p && *p; p++) {
                g_autofree char *anchored = g_strdup_printf("^(?:%s)$", *p);
                g_autoptr(GRegex) re = g_regex_new(anchored, 0, 0, NULL);

                if (re && g_regex_match(re, name, 0, NULL))
                        return true;
        }
        return false;
}

static bool path_allowed(char **globs, const char *path) {
        for (char **g = globs; g && *g; g++)
                if (fnmatch(*g, path, FNM_PATHNAME) == 0)
                        return true;
        return false;
}

static int apply_one(KcVmConfig *c, const char *annotation, const char *value) {
        const char *name = annotation + strlen(HYPERVISOR_PREFIX);
        g_autofree char *origin = g_strdup_printf("annotation %s", annotation);

        for (size_t i = 0; i < G_N_ELEMENTS(hypervisor_annotations); i++) {
                const KcVmKey *k;

                if (!streq(hypervisor_annotations[i].name, name))
                        continue;
                if (!name_enabled(c->enable_annotations, name))
                        return log_error_errno(EPERM,
                                               "%s is not allowed: add '%s' to enable_annotations in "
                                               "kata-conmon.conf to let pods set it",
                                               annotation, name);
                k = kc_vm_key_find("hypervisor.qemu", hypervisor_annotations[i].key);
                g_assert(k);

                switch (hypervisor_annotations[i].restriction) {
                case HYPERVISOR_PATH:
                        if (!path_allowed(c->valid_hypervisor_paths, value))
                                return log_error_errno(EPERM,
                                                       "%s: '%s' does not match valid_hypervisor_paths",
                                                       origin, value);
                        break;
                case VIRTIO_FS_DAEMON_PATH:
                        if (!path_allowed(c->valid_virtio_fs_daemon_paths, value))
                                return log_error_errno(
                                        EPERM, "%s: '%s' does not match valid_virtio_fs_daemon_paths",
                                        origin, value);
                        break;
                case FREE:
                        break;
                }

                if (streq(k->key, "kernel_params")) {
                        /* Like Kata: the pod's parameters come after the configured ones. */
                        g_autofree char *joined = c->kernel_params[0]
                                                          ? g_strdup_printf("%s %s", c->kernel_params, value)
                                                          : g_strdup(value);
                        return kc_vm_key_set(c, k, joined, origin);
                }
                if (k->type == KC_KEY_STRV) {
                        g_auto(GStrv) list = g_strsplit_set(value, " \t", -1);
                        g_autoptr(GPtrArray) args = g_ptr_array_new();

                        for (char **a = list; *a; a++)
                                if (**a)
                                        g_ptr_array_add(args, g_strdup(*a));
                        g_ptr_array_add(args, NULL);
                        g_strfreev(c->virtio_fs_extra_args);
                        c->virtio_fs_extra_args = (char **) g_ptr_array_free(g_steal_pointer(&args), false);
                        return 0;
                }
                return kc_vm_key_set(c, k, value, origin);
        }
        return log_error_errno(EINVAL, "%s is not supported by kata-conmon", annotation);
}

int kc_vm_config_apply_annotations(KcVmConfig *c, GHashTable *annotations) {
        g_autoptr(GList) names = NULL;
        int r;

        if (!annotations)
                return 0;
        /* Sorted, so that the first error reported does not depend on hash order. */
        names = g_list_sort(g_hash_table_get_keys(annotations), (GCompareFunc) strcmp);
        for (GList *l = names; l; l = l->next) {
                const char *name = l->data;
                const char *value = g_hash_table_lookup(annotations, name);

                if (!g_str_has_prefix(name, ANNOTATION_PREFIX) || g_str_has_prefix(name, PKG_PREFIX))
                        continue;
                if (!value)
                        return log_error_errno(EINVAL, "annotation %s has no value", name);
                if (!g_str_has_prefix(name, HYPERVISOR_PREFIX))
                        return log_error_errno(EINVAL, "annotation %s is not supported by kata-conmon",
                                               name);
                r = apply_one(c, name, value);
                if (r < 0)
                        return r;
        }
        return kc_vm_config_validate(c, "annotations");
}
