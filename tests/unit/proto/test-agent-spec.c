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
        g_test_add_func("/agent-spec/modules-list", test_modules_parse);
        g_test_add_func("/agent-spec/tty-and-process", test_tty_and_process);
        g_test_add_func("/agent-spec/invalid", test_invalid);
        return g_test_run();
}
