/* OCI LinuxResources for update-container: validation of every known member, the guest's subset. */
#include <errno.h>
#include <string.h>

#include "resources.h"
#include "message.h"

typedef enum Kind {
        KIND_INT,
        KIND_BOOL,
        KIND_STRING,
} Kind;

typedef struct Field {
        const char *name;
        Kind kind;
        int64_t min, max;
        bool keep; /* applied in the guest */
} Field;

static const Field memory_fields[] = {
        {"limit", KIND_INT, -1, INT64_MAX, true},      {"reservation", KIND_INT, -1, INT64_MAX, true},
        {"swap", KIND_INT, -1, INT64_MAX, true},       {"kernel", KIND_INT, -1, INT64_MAX, false},
        {"kernelTCP", KIND_INT, -1, INT64_MAX, false}, {"swappiness", KIND_INT, 0, 100, false},
        {"disableOOMKiller", KIND_BOOL, 0, 0, false},  {"useHierarchy", KIND_BOOL, 0, 0, false},
        {"checkBeforeUpdate", KIND_BOOL, 0, 0, false}, {},
};

static const Field cpu_fields[] = {
        {"shares", KIND_INT, 0, 262144, true},
        {"quota", KIND_INT, -1, INT64_MAX, true},
        {"burst", KIND_INT, 0, INT64_MAX, true},
        {"period", KIND_INT, 0, 1000000, true},
        {"realtimeRuntime", KIND_INT, -1, INT64_MAX, false},
        {"realtimePeriod", KIND_INT, 0, INT64_MAX, false},
        {"cpus", KIND_STRING, 0, KC_STRING_MAX, false},
        {"mems", KIND_STRING, 0, KC_STRING_MAX, false},
        {"idle", KIND_INT, 0, 1, true},
        {},
};

static const Field pids_fields[] = {
        {"limit", KIND_INT, -1, INT64_MAX, true},
        {},
};

static int fail(char **ret_error, const char *format, ...) G_GNUC_PRINTF(2, 3);
static int fail(char **ret_error, const char *format, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, format);
                *ret_error = g_strdup_vprintf(format, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static int filter_section(JsonObject *res, const char *section, const Field *fields, JsonObject *out,
                          char **ret_error) {
        g_autoptr(JsonObject) kept = json_object_new();
        JsonObject *o = NULL;

        if (kc_json_get_object(res, section, false, &o) < 0)
                return fail(ret_error, "resources.%s must be an object", section);
        if (!o)
                return 0;
        for (const Field *f = fields; f->name; f++) {
                const char *s = NULL;
                int64_t v = 0;
                bool b = false;

                if (!json_object_has_member(o, f->name) ||
                    JSON_NODE_HOLDS_NULL(json_object_get_member(o, f->name)))
                        continue;
                switch (f->kind) {
                case KIND_INT:
                        if (kc_json_get_int(o, f->name, f->min, f->max, true, &v) < 0)
                                return fail(ret_error,
                                            "resources.%s.%s must be an integer in %" G_GINT64_FORMAT
                                            " … %" G_GINT64_FORMAT,
                                            section, f->name, f->min, f->max);
                        if (f->keep)
                                json_object_set_int_member(kept, f->name, v);
                        break;
                case KIND_BOOL:
                        if (kc_json_get_bool(o, f->name, true, &b) < 0)
                                return fail(ret_error, "resources.%s.%s must be a boolean", section,
                                            f->name);
                        if (f->keep)
                                json_object_set_boolean_member(kept, f->name, b);
                        break;
                case KIND_STRING:
                        if (kc_json_get_string(o, f->name, (size_t) f->max, true, &s) < 0)
                                return fail(ret_error,
                                            "resources.%s.%s must be a string of at most %" G_GINT64_FORMAT
                                            " bytes",
                                            section, f->name, f->max);
                        if (f->keep)
                                json_object_set_string_member(kept, f->name, s);
                        break;
                }
        }
        if (json_object_get_size(kept) > 0)
                json_object_set_object_member(out, section, g_steal_pointer(&kept));
        return 0;
}

/* A cgroup2 interface file name: "<controller>.<file>", [a-z0-9_.], no path. */
static bool unified_key_ok(const char *k) {
        size_t n = strlen(k);

        if (n < 3 || n > 64 || k[0] == '.' || !strchr(k, '.'))
                return false;
        for (const char *c = k; *c; c++)
                if (!g_ascii_islower(*c) && !g_ascii_isdigit(*c) && *c != '_' && *c != '.')
                        return false;
        return true;
}

static int filter_unified(JsonObject *res, JsonObject *out, char **ret_error) {
        g_autoptr(JsonObject) kept = json_object_new();
        JsonObjectIter it;
        JsonObject *o = NULL;
        const char *key;
        JsonNode *value;

        if (kc_json_get_object(res, "unified", false, &o) < 0)
                return fail(ret_error, "resources.unified must be an object");
        if (!o)
                return 0;
        if (json_object_get_size(o) > KC_RESOURCES_UNIFIED_MAX)
                return fail(ret_error, "resources.unified has more than %d members",
                            KC_RESOURCES_UNIFIED_MAX);
        json_object_iter_init(&it, o);
        while (json_object_iter_next(&it, &key, &value)) {
                const char *s = NULL;

                if (!unified_key_ok(key))
                        return fail(ret_error, "resources.unified: invalid cgroup file name");
                if (kc_json_get_string(o, key, KC_STRING_MAX, true, &s) < 0 || strchr(s, '\n'))
                        return fail(ret_error,
                                    "resources.unified.%s must be a one-line string of at most %d bytes",
                                    key, KC_STRING_MAX);
                json_object_set_string_member(kept, key, s);
        }
        if (json_object_get_size(kept) > 0)
                json_object_set_object_member(out, "unified", g_steal_pointer(&kept));
        return 0;
}

int kc_resources_filter(JsonObject *resources, JsonObject **ret, char **ret_error) {
        /* Known sections the guest has no use for: type-checked, then dropped. */
        static const char *const arrays[] = {"devices", "hugepageLimits", NULL};
        static const char *const objects[] = {"blockIO", "network", "rdma", NULL};
        g_autoptr(JsonObject) out = json_object_new();
        int r;

        if (!resources)
                return fail(ret_error, "no resources object");
        for (size_t i = 0; arrays[i]; i++) {
                JsonArray *a = NULL;
                if (kc_json_get_array(resources, arrays[i], KC_JSON_MAX_MEMBERS, false, &a) < 0)
                        return fail(ret_error, "resources.%s must be an array", arrays[i]);
        }
        for (size_t i = 0; objects[i]; i++) {
                JsonObject *o = NULL;
                if (kc_json_get_object(resources, objects[i], false, &o) < 0)
                        return fail(ret_error, "resources.%s must be an object", objects[i]);
        }
        r = filter_section(resources, "memory", memory_fields, out, ret_error);
        if (r < 0)
                return r;
        r = filter_section(resources, "cpu", cpu_fields, out, ret_error);
        if (r < 0)
                return r;
        r = filter_section(resources, "pids", pids_fields, out, ret_error);
        if (r < 0)
                return r;
        r = filter_unified(resources, out, ret_error);
        if (r < 0)
                return r;
        *ret = g_steal_pointer(&out);
        return 0;
}
