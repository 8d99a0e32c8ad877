/* Reads what the VM engine needs from config.json: role, sandbox id, rootfs, annotations. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "fileio.h"
#include "message.h"
#include "vm-bundle.h"

#define CONFIG_JSON_MAX (4u * 1024u * 1024u)

void kc_vm_bundle_done(KcVmBundle *b) {
        if (!b)
                return;
        g_clear_pointer(&b->spec, json_object_unref);
        b->annotations = NULL;
        g_clear_pointer(&b->sandbox_id, g_free);
        g_clear_pointer(&b->root_path, g_free);
}

static int fail(char **ret_error, const char *format, ...) G_GNUC_PRINTF(2, 3);
static int fail(char **ret_error, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        if (ret_error)
                *ret_error = g_strdup_vprintf(format, ap);
        va_end(ap);
        return -EINVAL;
}

int kc_vm_bundle_parse(const char *text, size_t len, const char *bundle_dir, const char *cid,
                       KcVmBundle *ret, char **ret_error) {
        g_autoptr(JsonObject) spec = NULL;
        JsonObject *annotations = NULL, *root = NULL;
        const char *type = NULL, *sid = NULL, *path = NULL;
        bool readonly = false;
        int r;

        r = kc_json_parse_object(text, len, &spec);
        if (r < 0)
                return fail(ret_error, "malformed config.json: not a JSON object");
        r = kc_json_get_object(spec, "annotations", false, &annotations);
        if (r < 0)
                return fail(ret_error, "malformed config.json: annotations is not an object");
        if (!annotations) {
                json_object_set_object_member(spec, "annotations", json_object_new());
                annotations = json_object_get_object_member(spec, "annotations");
        }
        /* Every annotation value must be a string (OCI). */
        g_autoptr(GList) members = json_object_get_members(annotations);
        for (GList *l = members; l; l = l->next) {
                JsonNode *n = json_object_get_member(annotations, l->data);
                if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
                        return fail(ret_error, "malformed config.json: annotation %s is not a string",
                                    (const char *) l->data);
        }
        r = kc_json_get_object(spec, "root", true, &root);
        if (r < 0)
                return fail(ret_error, "malformed config.json: missing or invalid root");
        r = kc_json_get_string(root, "path", 4096, true, &path);
        if (r < 0 || path[0] == '\0')
                return fail(ret_error, "malformed config.json: missing or invalid root.path");
        r = kc_json_get_bool(root, "readonly", false, &readonly);
        if (r < 0)
                return fail(ret_error, "malformed config.json: root.readonly is not a boolean");
        if (!json_object_has_member(spec, "process"))
                return fail(ret_error, "malformed config.json: missing process");

        if (json_object_has_member(annotations, KC_ANNOTATION_CONTAINER_TYPE))
                type = json_object_get_string_member(annotations, KC_ANNOTATION_CONTAINER_TYPE);
        if (json_object_has_member(annotations, KC_ANNOTATION_SANDBOX_ID))
                sid = json_object_get_string_member(annotations, KC_ANNOTATION_SANDBOX_ID);

        KcVmRole role;
        if (!type || strcmp(type, "sandbox") == 0) {
                role = KC_VM_ROLE_SANDBOX;
                sid = cid;
        } else if (strcmp(type, "container") == 0) {
                role = KC_VM_ROLE_CONTAINER;
                if (!sid || !kc_id_is_valid(sid))
                        return fail(ret_error, "invalid or missing annotation %s", KC_ANNOTATION_SANDBOX_ID);
                if (strcmp(sid, cid) == 0)
                        return fail(ret_error, "container %s names itself as its sandbox", cid);
        } else
                return fail(ret_error, "invalid container type %s in annotation %s", type,
                            KC_ANNOTATION_CONTAINER_TYPE);
        if (!kc_id_is_valid(cid))
                return fail(ret_error, "invalid container id");

        *ret = (KcVmBundle){
                .annotations = annotations,
                .role = role,
                .sandbox_id = g_strdup(sid),
                .root_path = path[0] == '/' ? g_strdup(path) : g_build_filename(bundle_dir, path, NULL),
                .root_readonly = readonly,
        };
        ret->spec = g_steal_pointer(&spec);
        return 0;
}

int kc_vm_bundle_load(const char *bundle_dir, const char *cid, KcVmBundle *ret, char **ret_error) {
        g_autofree char *path = g_build_filename(bundle_dir, "config.json", NULL);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        r = read_file_bounded(path, CONFIG_JSON_MAX, &text, &len);
        if (r < 0) {
                if (ret_error)
                        *ret_error = g_strdup_printf("cannot read %s: %s", path, g_strerror(-r));
                return r;
        }
        return kc_vm_bundle_parse(text, len, bundle_dir, cid, ret, ret_error);
}

GHashTable *kc_vm_bundle_annotation_table(const KcVmBundle *b) {
        GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autoptr(GList) members = b->annotations ? json_object_get_members(b->annotations) : NULL;

        for (GList *l = members; l; l = l->next)
                g_hash_table_insert(t, g_strdup(l->data),
                                    g_strdup(json_object_get_string_member(b->annotations, l->data)));
        return t;
}
