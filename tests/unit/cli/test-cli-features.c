/* Unit tests: the OCI features document is valid JSON with the members and types the spec defines. */
#include <glib.h>
#include <stdbool.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "oci-features.h"

static JsonObject *roundtrip(void) {
        g_autoptr(JsonObject) o = kr_features_build();
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
        g_autoptr(JsonParser) p = json_parser_new();
        g_autofree char *text = NULL;

        json_node_set_object(node, o);
        text = json_to_string(node, true);
        g_assert_true(json_parser_load_from_data(p, text, -1, NULL));
        g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p)));
        return json_object_ref(json_node_get_object(json_parser_get_root(p)));
}

static bool array_has(JsonArray *a, const char *s) {
        for (guint i = 0; i < json_array_get_length(a); i++)
                if (strcmp(json_array_get_string_element(a, i), s) == 0)
                        return true;
        return false;
}

static void assert_string_array(JsonObject *o, const char *name) {
        JsonArray *a;

        g_assert_true(json_object_has_member(o, name));
        g_assert_true(JSON_NODE_HOLDS_ARRAY(json_object_get_member(o, name)));
        a = json_object_get_array_member(o, name);
        for (guint i = 0; i < json_array_get_length(a); i++) {
                JsonNode *n = json_array_get_element(a, i);
                g_assert_true(JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING);
                /* no duplicates */
                for (guint j = i + 1; j < json_array_get_length(a); j++)
                        g_assert_cmpstr(json_array_get_string_element(a, i), !=,
                                        json_array_get_string_element(a, j));
        }
}

static void test_versions(void) {
        g_autoptr(JsonObject) o = roundtrip();
        const char *min = json_object_get_string_member(o, "ociVersionMin");
        const char *max = json_object_get_string_member(o, "ociVersionMax");

        g_assert_true(g_str_has_prefix(min, "1."));
        g_assert_true(g_str_has_prefix(max, "1."));
        g_assert_cmpint(strcmp(min, max), <=, 0);
}

static void test_top_level(void) {
        g_autoptr(JsonObject) o = roundtrip();

        assert_string_array(o, "hooks");
        assert_string_array(o, "mountOptions");
        g_assert_true(array_has(json_object_get_array_member(o, "mountOptions"), "ro"));
        g_assert_true(array_has(json_object_get_array_member(o, "mountOptions"), "rbind"));
        g_assert_true(JSON_NODE_HOLDS_OBJECT(json_object_get_member(o, "annotations")));
        assert_string_array(o, "potentiallyUnsafeConfigAnnotations");
}

static void test_linux(void) {
        g_autoptr(JsonObject) o = roundtrip();
        JsonObject *lx = json_object_get_object_member(o, "linux"), *cg, *sc;

        g_assert_nonnull(lx);
        assert_string_array(lx, "namespaces");
        g_assert_true(array_has(json_object_get_array_member(lx, "namespaces"), "pid"));
        g_assert_true(array_has(json_object_get_array_member(lx, "namespaces"), "network"));
        assert_string_array(lx, "capabilities");
        g_assert_true(array_has(json_object_get_array_member(lx, "capabilities"), "CAP_SYS_ADMIN"));
        for (guint i = 0; i < json_array_get_length(json_object_get_array_member(lx, "capabilities")); i++)
                g_assert_true(g_str_has_prefix(
                        json_array_get_string_element(json_object_get_array_member(lx, "capabilities"), i),
                        "CAP_"));

        cg = json_object_get_object_member(lx, "cgroup");
        g_assert_nonnull(cg);
        g_assert_true(json_object_get_boolean_member(cg, "v2"));
        g_assert_true(JSON_NODE_HOLDS_VALUE(json_object_get_member(cg, "v1")));

        sc = json_object_get_object_member(lx, "seccomp");
        g_assert_true(json_object_get_boolean_member(sc, "enabled"));
        assert_string_array(sc, "actions");
        assert_string_array(sc, "operators");
        assert_string_array(sc, "archs");
        g_assert_true(array_has(json_object_get_array_member(sc, "actions"), "SCMP_ACT_ERRNO"));
        g_assert_true(array_has(json_object_get_array_member(sc, "archs"), "SCMP_ARCH_X86_64"));

        g_assert_false(
                json_object_get_boolean_member(json_object_get_object_member(lx, "apparmor"), "enabled"));
        g_assert_true(json_object_has_member(json_object_get_object_member(lx, "selinux"), "enabled"));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/cli/features/versions", test_versions);
        g_test_add_func("/cli/features/top-level", test_top_level);
        g_test_add_func("/cli/features/linux", test_linux);
        return g_test_run();
}
