/* Unit tests for kata-agent's OCI spec translation: host-only fields out, guest paths in. */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "agent.h"

static const char *const host_spec =
        "{\"ociVersion\":\"1.0.2\","
        "\"process\":{\"args\":[\"/bin/"
        "sh\"],\"terminal\":true,\"selinuxLabel\":\"system_u:system_r:container_t:s0\","
        "\"apparmorProfile\":\"x\",\"capabilities\":{\"bounding\":[\"CAP_KILL\"]}},"
        "\"root\":{\"path\":\"/var/lib/containers/storage/overlay/abc/merged\",\"readonly\":true},"
        "\"hooks\":{\"prestart\":[{\"path\":\"/usr/bin/hook\"}]},"
        "\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\"},"
        "\"mounts\":["
        "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
        "{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"/run/containers/storage/hosts\","
        "\"options\":[\"rbind\"]},"
        "{\"destination\":\"/data\",\"source\":\"/run/kata-containers/shared/containers/c1-vol\","
        "\"options\":[\"rbind\",\"rw\"]},"
        "{\"destination\":\"/evil\",\"type\":\"bind\",\"source\":\"/run/kata-containers/shared/containers/"
        "../../etc\"},"
        "{\"destination\":\"/x\",\"type\":\"nfs\",\"source\":\"srv:/x\"},"
        "{\"destination\":\"/dev/shm\",\"type\":\"bind\",\"source\":\"/run/containers/storage/abc/shm\","
        "\"options\":[\"rbind\"]}],"
        "\"linux\":{\"cgroupsPath\":\"kubepods-besteffort.slice:crio:abc\",\"mountLabel\":\"system_u:object_"
        "r:x\","
        "\"devices\":[{\"path\":\"/dev/fuse\",\"type\":\"c\",\"major\":10,\"minor\":229}],"
        "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":\"/var/run/netns/abc\"},"
        "{\"type\":\"ipc\",\"path\":\"/proc/42/ns/ipc\"},{\"type\":\"cgroup\"},{\"type\":\"mount\"}],"
        "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}],\"pids\":{\"limit\":100},"
        "\"memory\":{\"limit\":268435456},\"cpu\":{\"quota\":50000,\"period\":100000,\"cpus\":\"0-3\"}},"
        "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\"}}}";

static JsonObject *translate(const char *text, bool tty, int expect) {
        JsonObject *spec = NULL;
        g_autofree char *err = NULL;

        g_assert_cmpint(kc_json_parse_object(text, strlen(text), &spec), ==, 0);
        g_assert_cmpint(spec_translate(spec, "/kata/c1", "/run/kata-containers/shared/containers/c1/rootfs",
                                       "/run/kata-containers/shared/containers", tty, &err),
                        ==, expect);
        if (expect < 0)
                g_assert_nonnull(err);
        return spec;
}

static void test_modules_parse(void) {
        g_autoptr(GPtrArray) e = modules_parse("# comment\n/lib/a.ko\n\n@boot\n /lib/b.ko \nrelative.ko\n"
                                               "@net\n/lib/b.ko\n/lib/c.ko\n@\n/lib/d.ko\n");
        static const char *const want[][2] = {
                {"/lib/a.ko", ""},    {"/lib/b.ko", "boot"}, {"/lib/b.ko", "net"},
                {"/lib/c.ko", "net"}, {"/lib/d.ko", ""},
        };

        g_assert_cmpuint(e->len, ==, G_N_ELEMENTS(want));
        for (guint i = 0; i < e->len; i++) {
                ModuleEntry *m = g_ptr_array_index(e, i);
                g_assert_cmpstr(m->path, ==, want[i][0]);
                g_assert_cmpstr(m->group, ==, want[i][1]);
        }
        g_ptr_array_unref(modules_parse(""));
}

static void test_pod_namespaces(void) {
        static const char member[] =
                "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\","
                "\"io.kubernetes.cri-o.SandboxID\":\"sb1\"},\"root\":{\"path\":\"rootfs\"},"
                "\"process\":{\"args\":[\"sh\"]},\"linux\":{\"namespaces\":[{\"type\":\"pid\"},"
                "{\"type\":\"ipc\",\"path\":\"/var/run/ipcns/x\"},{\"type\":\"uts\",\"path\":\"/var/run/"
                "utsns/x\"},"
                "{\"type\":\"network\",\"path\":\"/var/run/netns/x\"},{\"type\":\"mount\"}]}}";
        static const char sandbox_text[] = "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":"
                                           "\"sandbox\",\"io.kubernetes.cri-o.SandboxID\":\"sb1\"}}";
        g_autoptr(JsonObject) spec = NULL, sandbox = NULL;
        g_auto(GStrv) joined = NULL;
        g_autofree char *err = NULL;
        JsonArray *ns;

        g_assert_cmpint(kc_json_parse_object(member, strlen(member), &spec), ==, 0);
        g_assert_cmpstr(spec_pod_sandbox_id(spec), ==, "sb1");
        joined = spec_joined_namespaces(spec);
        g_assert_cmpuint(g_strv_length(joined), ==, 3); /* ipc, uts, network */
        g_assert_cmpint(spec_translate(spec, "/kata/c1", "/shared/c1/rootfs", "/shared", false, &err), ==,
                        0);
        spec_join_sandbox_namespaces(spec, (const char *const *) joined, 42);
        ns = json_object_get_array_member(json_object_get_object_member(spec, "linux"), "namespaces");
        g_assert_cmpuint(json_array_get_length(ns), ==, 4); /* network dropped: the VM's */
        for (guint i = 0; i < json_array_get_length(ns); i++) {
                JsonObject *o = json_array_get_object_element(ns, i);
                const char *type = json_object_get_string_member(o, "type");
                const char *path = json_object_get_string_member_with_default(o, "path", NULL);
                if (strcmp(type, "ipc") == 0)
                        g_assert_cmpstr(path, ==, "/proc/42/ns/ipc");
                else if (strcmp(type, "uts") == 0)
                        g_assert_cmpstr(path, ==, "/proc/42/ns/uts");
                else
                        g_assert_null(path); /* pid and mount stay the container's own */
        }
        /* A sandbox, or a container outside a pod, names no sandbox to join. */
        g_assert_cmpint(kc_json_parse_object(sandbox_text, strlen(sandbox_text), &sandbox), ==, 0);
        g_assert_null(spec_pod_sandbox_id(sandbox));
}

static void test_default_personality(void) {
        g_autoptr(JsonObject) spec = translate(host_spec, false, 0);
        g_autoptr(JsonObject) own =
                translate("{\"root\":{\"path\":\"rootfs\"},\"process\":{\"args\":[\"sh\"]},"
                          "\"linux\":{\"personality\":{\"domain\":\"LINUX32\"}}}",
                          false, 0);
        JsonObject *p;

        g_assert_false(json_object_has_member(json_object_get_object_member(spec, "linux"), "personality"));
        spec_set_default_personality(spec);
        p = json_object_get_object_member(json_object_get_object_member(spec, "linux"), "personality");
        g_assert_nonnull(p);
        g_assert_cmpstr(json_object_get_string_member(p, "domain"), ==, "LINUX");
        /* A spec's own personality stays as it is. */
        spec_set_default_personality(own);
        p = json_object_get_object_member(json_object_get_object_member(own, "linux"), "personality");
        g_assert_cmpstr(json_object_get_string_member(p, "domain"), ==, "LINUX32");
}

static void test_translate(void) {
        g_autoptr(JsonObject) spec = translate(host_spec, false, 0);
        JsonObject *root = json_object_get_object_member(spec, "root");
        JsonObject *process = json_object_get_object_member(spec, "process");
        JsonObject *lnx = json_object_get_object_member(spec, "linux");
        JsonObject *res = json_object_get_object_member(lnx, "resources");
        JsonArray *mounts = json_object_get_array_member(spec, "mounts");
        JsonArray *ns = json_object_get_array_member(lnx, "namespaces");
        g_autoptr(GString) kept = g_string_new(NULL);

        g_assert_cmpstr(json_object_get_string_member(root, "path"), ==,
                        "/run/kata-containers/shared/containers/c1/rootfs");
        g_assert_true(json_object_get_boolean_member(root, "readonly"));
        g_assert_false(json_object_has_member(spec, "hooks"));
        g_assert_false(json_object_has_member(spec, "annotations"));
        g_assert_false(json_object_has_member(process, "selinuxLabel"));
        g_assert_false(json_object_has_member(process, "apparmorProfile"));
        g_assert_false(json_object_get_boolean_member(process, "terminal")); /* from the request */
        g_assert_true(json_object_has_member(process, "capabilities"));
        g_assert_cmpstr(json_object_get_string_member(process, "cwd"), ==, "/");
        g_assert_false(json_object_has_member(lnx, "devices"));
        g_assert_false(json_object_has_member(lnx, "mountLabel"));
        g_assert_true(json_object_has_member(lnx, "seccomp"));
        g_assert_cmpstr(json_object_get_string_member(lnx, "cgroupsPath"), ==, "/kata/c1");
        g_assert_false(json_object_has_member(res, "devices"));
        g_assert_false(json_object_has_member(res, "pids"));
        g_assert_true(json_object_has_member(res, "memory"));
        g_assert_false(json_object_has_member(json_object_get_object_member(res, "cpu"), "cpus"));
        g_assert_true(json_object_has_member(json_object_get_object_member(res, "cpu"), "quota"));

        /* pid, ipc (path dropped), mount; no network, no cgroup. */
        g_assert_cmpuint(json_array_get_length(ns), ==, 3);
        for (guint i = 0; i < 3; i++) {
                JsonObject *o = json_array_get_object_element(ns, i);
                g_assert_false(json_object_has_member(o, "path"));
                g_string_append_printf(kept, "%s ", json_object_get_string_member(o, "type"));
        }
        g_assert_cmpstr(kept->str, ==, "pid ipc mount ");

        /* proc and the shared-dir bind stay; host binds, escapes and unknown filesystems go. */
        g_string_truncate(kept, 0);
        for (guint i = 0; i < json_array_get_length(mounts); i++)
                g_string_append_printf(kept, "%s ",
                                       json_object_get_string_member(
                                               json_array_get_object_element(mounts, i), "destination"));
        g_assert_cmpstr(kept->str, ==, "/proc /data /dev/shm ");
        g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(mounts, 2), "type"), ==,
                        "tmpfs");
}

static void test_tty_and_process(void) {
        g_autoptr(JsonObject) spec = translate(host_spec, true, 0);
        JsonObject *process = json_object_get_object_member(spec, "process");
        g_autoptr(JsonObject) p = NULL;
        g_autofree char *err = NULL;

        g_assert_true(json_object_get_boolean_member(process, "terminal"));
        g_assert_cmpint(kc_json_parse_object("{\"args\":[]}", 11, &p), ==, 0);
        g_assert_cmpint(spec_translate_process(p, false, &err), ==, -EINVAL);
        g_clear_pointer(&err, g_free);
        g_clear_pointer(&p, json_object_unref);
        g_assert_cmpint(kc_json_parse_object("{\"args\":[\"sh\",1]}", 17, &p), ==, 0);
        g_assert_cmpint(spec_translate_process(p, false, &err), ==, -EINVAL);
}

static void test_invalid(void) {
        g_autoptr(JsonObject) a = translate("{\"root\":{\"path\":\"x\"}}", false, -EINVAL); /* no process */
        g_autoptr(JsonObject) b =
                translate("{\"process\":{\"args\":[\"sh\"]},\"mounts\":{}}", false, -EINVAL);
        g_autoptr(JsonObject) c =
                translate("{\"process\":{\"args\":[\"sh\"]},\"linux\":[]}", false, -EINVAL);
        g_autoptr(JsonObject) d = translate(
                "{\"process\":{\"args\":[\"sh\"]},\"root\":{\"readonly\":\"yes\"}}", false, -EINVAL);
        g_autoptr(JsonObject) e =
                translate("{\"process\":{\"args\":[\"sh\"]}}", false, 0); /* minimal is fine */

        g_assert_cmpstr(
                json_object_get_string_member(json_object_get_object_member(e, "linux"), "cgroupsPath"), ==,
                "/kata/c1");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/agent-spec/translate", test_translate);
        g_test_add_func("/agent-spec/default-personality", test_default_personality);
        g_test_add_func("/agent-spec/pod-namespaces", test_pod_namespaces);
        g_test_add_func("/agent-spec/modules-list", test_modules_parse);
        g_test_add_func("/agent-spec/tty-and-process", test_tty_and_process);
        g_test_add_func("/agent-spec/invalid", test_invalid);
        return g_test_run();
}
