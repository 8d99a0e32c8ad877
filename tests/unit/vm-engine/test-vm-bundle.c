/* Unit tests of config.json reading for the VM engine: roles, sandbox ids, rootfs, errors. */
#include <glib.h>
#include <string.h>

#include "vm-bundle.h"
#include "vm-launch.h"

static int parse(const char *json, const char *cid, KcVmBundle *b, char **err) {
        return kc_vm_bundle_parse(json, strlen(json), "/bundles/x", cid, b, err);
}

static void test_podman_is_sandbox(void) {
        KcVmBundle b = {};
        g_autofree char *err = NULL;
        g_assert_cmpint(parse("{\"process\":{},\"root\":{\"path\":\"rootfs\"}}", "c1", &b, &err), ==, 0);
        g_assert_cmpint(b.role, ==, KC_VM_ROLE_SANDBOX);
        g_assert_cmpstr(b.sandbox_id, ==, "c1");
        g_assert_cmpstr(b.root_path, ==, "/bundles/x/rootfs");
        g_assert_false(b.root_readonly);
        g_assert_nonnull(b.annotations);
        kc_vm_bundle_done(&b);
}

static void test_crio_roles(void) {
        KcVmBundle b = {};
        g_autofree char *err = NULL;
        g_assert_cmpint(
                parse("{\"process\":{},\"root\":{\"path\":\"/r\",\"readonly\":true},\"annotations\":{"
                      "\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
                      "\"io.kubernetes.cri-o.SandboxID\":\"pod\"}}",
                      "pod", &b, &err),
                ==, 0);
        g_assert_cmpint(b.role, ==, KC_VM_ROLE_SANDBOX);
        g_assert_true(b.root_readonly);
        g_assert_cmpstr(b.root_path, ==, "/r");
        kc_vm_bundle_done(&b);
        g_assert_cmpint(parse("{\"process\":{},\"root\":{\"path\":\"/r\"},\"annotations\":{"
                              "\"io.kubernetes.cri-o.ContainerType\":\"container\","
                              "\"io.kubernetes.cri-o.SandboxID\":\"pod\"}}",
                              "web", &b, &err),
                        ==, 0);
        g_assert_cmpint(b.role, ==, KC_VM_ROLE_CONTAINER);
        g_assert_cmpstr(b.sandbox_id, ==, "pod");
        g_autoptr(GHashTable) t = kc_vm_bundle_annotation_table(&b);
        g_assert_cmpstr(g_hash_table_lookup(t, "io.kubernetes.cri-o.SandboxID"), ==, "pod");
        kc_vm_bundle_done(&b);
}

static void expect_error(const char *json, const char *cid, const char *needle) {
        KcVmBundle b = {};
        g_autofree char *err = NULL;
        g_assert_cmpint(parse(json, cid, &b, &err), ==, -EINVAL);
        g_assert_nonnull(err);
        if (!strstr(err, needle))
                g_error("error %s does not mention %s", err, needle);
}

static void test_errors(void) {
        expect_error("{nope", "c", "malformed config.json");
        expect_error("[]", "c", "malformed config.json");
        expect_error("{\"process\":{}}", "c", "root");
        expect_error("{\"process\":{},\"root\":{\"path\":\"\"}}", "c", "root.path");
        expect_error("{\"root\":{\"path\":\"/r\"}}", "c", "process");
        expect_error("{\"process\":{},\"root\":{\"path\":\"/r\"},\"annotations\":{\"a\":1}}", "c",
                     "annotation a");
        expect_error("{\"process\":{},\"root\":{\"path\":\"/r\"},\"annotations\":{"
                     "\"io.kubernetes.cri-o.ContainerType\":\"pod\"}}",
                     "c", "invalid container type");
        expect_error("{\"process\":{},\"root\":{\"path\":\"/r\"},\"annotations\":{"
                     "\"io.kubernetes.cri-o.ContainerType\":\"container\"}}",
                     "c", "SandboxID");
        expect_error("{\"process\":{},\"root\":{\"path\":\"/r\"},\"annotations\":{"
                     "\"io.kubernetes.cri-o.ContainerType\":\"container\","
                     "\"io.kubernetes.cri-o.SandboxID\":\"../etc\"}}",
                     "c", "SandboxID");
        expect_error("{\"process\":{},\"root\":{\"path\":\"/r\"},\"annotations\":{"
                     "\"io.kubernetes.cri-o.ContainerType\":\"container\","
                     "\"io.kubernetes.cri-o.SandboxID\":\"c\"}}",
                     "c", "itself");
        expect_error("{\"process\":{},\"root\":{\"path\":\"/r\"}}", "../x", "invalid container id");
}

static void test_virtiofsd_argv(void) {
        KcVmConfig c = {.virtio_fs_daemon = (char *) "/usr/lib/qemu/virtiofsd",
                        .virtio_fs_cache = (char *) "never"};
        g_auto(GStrv) a = kc_vm_virtiofsd_argv(&c, "/s/shared");
        g_autofree char *j = g_strjoinv(" ", a);
        g_assert_cmpstr(
                j, ==,
                "/usr/lib/qemu/virtiofsd --fd=3 -o source=/s/shared -o cache=none -o announce_submounts "
                "-o log_level=warn");
        c.virtio_fs_daemon = (char *) "/usr/libexec/virtiofsd";
        c.virtio_fs_cache = (char *) "auto";
        char *extra[] = {(char *) "--thread-pool-size=1", NULL};
        c.virtio_fs_extra_args = extra;
        g_auto(GStrv) b = kc_vm_virtiofsd_argv(&c, "/s/shared");
        g_autofree char *k = g_strjoinv(" ", b);
        g_assert_cmpstr(
                k, ==,
                "/usr/libexec/virtiofsd --fd=3 --shared-dir=/s/shared --cache=auto --announce-submounts "
                "--log-level=warn --thread-pool-size=1");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/vm-bundle/podman-is-sandbox", test_podman_is_sandbox);
        g_test_add_func("/vm-bundle/crio-roles", test_crio_roles);
        g_test_add_func("/vm-bundle/errors", test_errors);
        g_test_add_func("/vm-bundle/virtiofsd-argv", test_virtiofsd_argv);
        return g_test_run();
}
