/* kata-agent: rewriting the host's OCI spec for the guest (pure; unit-tested). */
#include <errno.h>
#include <string.h>

#include "agent.h"

static const char *const kept_mount_types[] = {
        "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2", "shm", NULL,
};

static bool strv_has(const char *const *v, const char *s) {
        for (; *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

static bool path_is_under(const char *path, const char *dir) {
        size_t n = strlen(dir);

        if (strncmp(path, dir, n) != 0 || (path[n] != '/' && path[n] != '\0'))
                return false;
        /* No ".." component can climb back out. */
        return !strstr(path + n, "/../") && !g_str_has_suffix(path + n, "/..");
}

static bool mount_is_bind(JsonObject *m) {
        const char *type = NULL;
        JsonArray *opts = NULL;

        (void) kc_json_get_string(m, "type", KC_STRING_MAX, false, &type);
        if (type && strcmp(type, "bind") == 0)
                return true;
        if (kc_json_get_array(m, "options", KC_JSON_MAX_MEMBERS, false, &opts) < 0 || !opts)
                return false;
        for (guint i = 0; i < json_array_get_length(opts); i++) {
                JsonNode *n = json_array_get_element(opts, i);
                const char *o = JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
                                        ? json_node_get_string(n)
                                        : "";
                if (strcmp(o, "bind") == 0 || strcmp(o, "rbind") == 0)
                        return true;
        }
        return false;
}

static JsonObject *shm_mount(void) {
        static const char *const opts[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"};
        JsonObject *m = json_object_new();
        JsonArray *a = json_array_new();

        for (size_t i = 0; i < G_N_ELEMENTS(opts); i++)
                json_array_add_string_element(a, opts[i]);
        json_object_set_string_member(m, "destination", "/dev/shm");
        json_object_set_string_member(m, "type", "tmpfs");
        json_object_set_string_member(m, "source", "shm");
        json_object_set_array_member(m, "options", a);
        return m;
}

/* Keeps guest-known filesystems and bind mounts from the shared directory; drops the rest. */
static int translate_mounts(JsonObject *spec, const char *shared_dir, char **ret_error) {
        JsonArray *mounts = NULL, *kept;

        if (kc_json_get_array(spec, "mounts", KC_JSON_MAX_MEMBERS, false, &mounts) < 0) {
                *ret_error = g_strdup("mounts is not an array");
                return -EINVAL;
        }
        if (!mounts)
                return 0;
        kept = json_array_new();
        for (guint i = 0; i < json_array_get_length(mounts); i++) {
                JsonNode *n = json_array_get_element(mounts, i);
                const char *dest = NULL, *source = NULL, *type = NULL;
                JsonObject *m;

                if (!JSON_NODE_HOLDS_OBJECT(n)) {
                        json_array_unref(kept);
                        *ret_error = g_strdup("a mount is not an object");
                        return -EINVAL;
                }
                m = json_node_get_object(n);
                if (kc_json_get_string(m, "destination", KC_STRING_MAX, true, &dest) < 0 ||
                    kc_json_get_string(m, "source", KC_STRING_MAX, false, &source) < 0 ||
                    kc_json_get_string(m, "type", KC_STRING_MAX, false, &type) < 0) {
                        json_array_unref(kept);
                        *ret_error = g_strdup("a mount has a missing or mistyped field");
                        return -EINVAL;
                }
                if (mount_is_bind(m)) {
                        if (!source || !path_is_under(source, shared_dir)) {
                                /* The pod's shm is a host path: give the container a private one. */
                                if (strcmp(dest, "/dev/shm") == 0)
                                        json_array_add_object_element(kept, shm_mount());
                                continue;
                        }
                } else if (!type || !strv_has(kept_mount_types, type))
                        continue;
                json_array_add_element(kept, json_node_copy(n));
        }
        json_object_set_array_member(spec, "mounts", kept);
        return 0;
}

static void translate_namespaces(JsonObject *linux_) {
        static const char *const dropped[] = {"network", "cgroup", "time", NULL};
        JsonArray *ns = NULL, *kept;

        if (kc_json_get_array(linux_, "namespaces", KC_JSON_MAX_MEMBERS, false, &ns) < 0 || !ns)
                return;
        kept = json_array_new();
        for (guint i = 0; i < json_array_get_length(ns); i++) {
                JsonNode *n = json_array_get_element(ns, i);
                const char *type = NULL;
                JsonObject *o;

                if (!JSON_NODE_HOLDS_OBJECT(n))
                        continue;
                if (kc_json_get_string(json_node_get_object(n), "type", 64, true, &type) < 0 ||
                    strv_has(dropped, type))
                        continue;
                o = json_object_new();
                json_object_set_string_member(o, "type", type);
                json_array_add_object_element(kept, o);
        }
        json_object_set_array_member(linux_, "namespaces", kept);
}

static void translate_resources(JsonObject *linux_) {
        static const char *const dropped[] = {"devices", "pids",           "blockIO",
                                              "network", "hugepageLimits", NULL};
        JsonObject *res = NULL, *cpu = NULL;

        if (kc_json_get_object(linux_, "resources", false, &res) < 0) {
                json_object_remove_member(linux_, "resources");
                return;
        }
        if (!res)
                return;
        for (const char *const *d = dropped; *d; d++)
                if (json_object_has_member(res, *d))
                        json_object_remove_member(res, *d);
        if (kc_json_get_object(res, "cpu", false, &cpu) == 0 && cpu) {
                if (json_object_has_member(cpu, "cpus"))
                        json_object_remove_member(cpu, "cpus");
                if (json_object_has_member(cpu, "mems"))
                        json_object_remove_member(cpu, "mems");
        }
}

static void remove_member(JsonObject *o, const char *name) {
        if (o && json_object_has_member(o, name))
                json_object_remove_member(o, name);
}

int spec_translate_process(JsonObject *process, bool tty, char **ret_error) {
        JsonArray *args = NULL;

        if (kc_json_get_array(process, "args", KC_JSON_MAX_MEMBERS, true, &args) < 0 ||
            json_array_get_length(args) == 0) {
                *ret_error = g_strdup("process.args must be a non-empty array");
                return -EINVAL;
        }
        for (guint i = 0; i < json_array_get_length(args); i++) {
                JsonNode *n = json_array_get_element(args, i);
                if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) {
                        *ret_error = g_strdup("process.args must hold strings");
                        return -EINVAL;
                }
        }
        if (!json_object_has_member(process, "cwd"))
                json_object_set_string_member(process, "cwd", "/");
        remove_member(process, "selinuxLabel");
        remove_member(process, "apparmorProfile");
        remove_member(process, "consoleSize");
        json_object_set_boolean_member(process, "terminal", tty);
        return 0;
}

int spec_translate(JsonObject *spec, const char *cgroups_path, const char *rootfs, const char *shared_dir,
                   bool tty, char **ret_error) {
        JsonObject *process = NULL, *root = NULL, *linux_ = NULL, *new_root;
        bool readonly = false;
        int r;

        if (kc_json_get_object(spec, "process", true, &process) < 0) {
                *ret_error = g_strdup("process must be an object");
                return -EINVAL;
        }
        r = spec_translate_process(process, tty, ret_error);
        if (r < 0)
                return r;
        if (kc_json_get_object(spec, "root", false, &root) < 0 ||
            (root && kc_json_get_bool(root, "readonly", false, &readonly) < 0)) {
                *ret_error = g_strdup("root must be an object with a boolean readonly");
                return -EINVAL;
        }
        new_root = json_object_new();
        json_object_set_string_member(new_root, "path", rootfs);
        json_object_set_boolean_member(new_root, "readonly", readonly);
        json_object_set_object_member(spec, "root", new_root);

        remove_member(spec, "hooks");
        remove_member(spec, "annotations");
        r = translate_mounts(spec, shared_dir, ret_error);
        if (r < 0)
                return r;

        if (kc_json_get_object(spec, "linux", false, &linux_) < 0) {
                *ret_error = g_strdup("linux must be an object");
                return -EINVAL;
        }
        if (!linux_) {
                linux_ = json_object_new();
                json_object_set_object_member(spec, "linux", linux_);
        }
        remove_member(linux_, "devices");
        remove_member(linux_, "mountLabel");
        remove_member(linux_, "intelRdt");
        translate_namespaces(linux_);
        translate_resources(linux_);
        json_object_set_string_member(linux_, "cgroupsPath", cgroups_path);
        return 0;
}

void spec_set_default_personality(JsonObject *spec) {
        JsonObject *linux_ = NULL, *p;

        /* After spec_translate() "linux" is an object. */
        if (kc_json_get_object(spec, "linux", true, &linux_) < 0 ||
            json_object_has_member(linux_, "personality"))
                return;
        p = json_object_new();
        json_object_set_string_member(p, "domain", "LINUX");
        json_object_set_object_member(linux_, "personality", p);
}

/* A pod member (CRI-O's io.kubernetes.cri-o.ContainerType "container") names its sandbox; NULL for a
 * sandbox or a container outside a pod. Call before spec_translate(), which drops the annotations. */
const char *spec_pod_sandbox_id(JsonObject *spec) {
        JsonObject *ann = NULL;
        const char *type = NULL, *sandbox = NULL;

        if (kc_json_get_object(spec, "annotations", false, &ann) < 0 || !ann ||
            kc_json_get_string(ann, "io.kubernetes.cri-o.ContainerType", 64, false, &type) < 0 ||
            kc_json_get_string(ann, "io.kubernetes.cri-o.SandboxID", KC_STRING_MAX, false, &sandbox) < 0)
                return NULL;
        return type && strcmp(type, "container") == 0 && sandbox && sandbox[0] ? sandbox : NULL;
}

/* The namespace types the host spec joins (an entry with a path): before spec_translate(). */
char **spec_joined_namespaces(JsonObject *spec) {
        g_autoptr(GPtrArray) types = g_ptr_array_new_with_free_func(g_free);
        JsonObject *linux_ = NULL;
        JsonArray *ns = NULL;

        if (kc_json_get_object(spec, "linux", false, &linux_) >= 0 && linux_ &&
            kc_json_get_array(linux_, "namespaces", KC_JSON_MAX_MEMBERS, false, &ns) >= 0 && ns)
                for (guint i = 0; i < json_array_get_length(ns); i++) {
                        JsonNode *n = json_array_get_element(ns, i);
                        const char *type = NULL, *path = NULL;

                        if (!JSON_NODE_HOLDS_OBJECT(n) ||
                            kc_json_get_string(json_node_get_object(n), "type", 64, false, &type) < 0 ||
                            kc_json_get_string(json_node_get_object(n), "path", KC_STRING_MAX, false,
                                               &path) < 0)
                                continue;
                        if (type && path && path[0])
                                g_ptr_array_add(types, g_strdup(type));
                }
        g_ptr_array_add(types, NULL);
        return (char **) g_ptr_array_free(g_steal_pointer(&types), false);
}

/* In a pod the host joins the infra container's IPC and UTS (and, with a shared process namespace,
 * PID) namespaces; in the guest the same namespaces are the sandbox container's init's. */
void spec_join_sandbox_namespaces(JsonObject *spec, const char *const *joined, pid_t sandbox_pid) {
        static const char *const shared[] = {"ipc", "uts", "pid", NULL};
        JsonObject *linux_ = NULL;
        JsonArray *ns = NULL;

        if (kc_json_get_object(spec, "linux", true, &linux_) < 0 ||
            kc_json_get_array(linux_, "namespaces", KC_JSON_MAX_MEMBERS, false, &ns) < 0 || !ns)
                return;
        for (guint i = 0; i < json_array_get_length(ns); i++) {
                JsonObject *o = json_array_get_object_element(ns, i);
                const char *type = json_object_get_string_member_with_default(o, "type", "");

                if (strv_has(shared, type) && joined && strv_has(joined, type)) {
                        g_autofree char *path = g_strdup_printf("/proc/%d/ns/%s", (int) sandbox_pid, type);
                        json_object_set_string_member(o, "path", path);
                }
        }
}
