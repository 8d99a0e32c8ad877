/* Host <-> agent JSON messages: bounded parsing, strict typed getters, message builders. */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>

#include "frame.h"
#include "message.h"

bool kc_id_is_valid(const char *id) {
        size_t n;

        if (!id)
                return false;
        n = strlen(id);
        if (n < 1 || n > KC_ID_MAX)
                return false;
        if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = id[i];
                if (!g_ascii_isalnum(c) && c != '_' && c != '.' && c != '-')
                        return false;
        }
        return true;
}

int kc_json_check_depth(const char *text, size_t len, unsigned max_depth) {
        unsigned depth = 0;
        bool in_string = false, escaped = false;

        for (size_t i = 0; i < len; i++) {
                char c = text[i];

                if (c == '\0')
                        return -EBADMSG;
                if (in_string) {
                        if (escaped)
                                escaped = false;
                        else if (c == '\\')
                                escaped = true;
                        else if (c == '"')
                                in_string = false;
                        continue;
                }
                switch (c) {
                case '"':
                        in_string = true;
                        break;
                case '[':
                case '{':
                        if (++depth > max_depth)
                                return -E2BIG;
                        break;
                case ']':
                case '}':
                        if (depth == 0)
                                return -EBADMSG;
                        depth--;
                        break;
                default:
                        break;
                }
        }
        return depth == 0 && !in_string ? 0 : -EBADMSG;
}

/* Counts members of every object and array; -E2BIG when one is too large. */
static int check_members(JsonNode *node) {
        if (JSON_NODE_HOLDS_OBJECT(node)) {
                JsonObject *o = json_node_get_object(node);
                JsonObjectIter it;
                JsonNode *child;

                if (json_object_get_size(o) > KC_JSON_MAX_MEMBERS)
                        return -E2BIG;
                json_object_iter_init(&it, o);
                while (json_object_iter_next(&it, NULL, &child))
                        if (check_members(child) < 0)
                                return -E2BIG;
        } else if (JSON_NODE_HOLDS_ARRAY(node)) {
                JsonArray *a = json_node_get_array(node);
                guint n = json_array_get_length(a);

                if (n > KC_JSON_MAX_MEMBERS)
                        return -E2BIG;
                for (guint i = 0; i < n; i++)
                        if (check_members(json_array_get_element(a, i)) < 0)
                                return -E2BIG;
        }
        return 0;
}

int kc_json_parse_object(const void *payload, size_t len, JsonObject **ret) {
        g_autoptr(JsonParser) parser = NULL;
        JsonNode *root;
        int r;

        if (!payload || len == 0 || len > KC_FRAME_MAX_REQUEST_PAYLOAD)
                return -EBADMSG;
        if (!g_utf8_validate(payload, (gssize) len, NULL))
                return -EBADMSG;
        r = kc_json_check_depth(payload, len, KC_JSON_MAX_DEPTH);
        if (r < 0)
                return r;

        parser = json_parser_new();
        if (!json_parser_load_from_data(parser, payload, (gssize) len, NULL))
                return -EBADMSG;
        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root))
                return -EBADMSG;
        r = check_members(root);
        if (r < 0)
                return r;
        *ret = json_object_ref(json_node_get_object(root));
        return 0;
}

int kc_json_append_frame(GByteArray *out, int kind, uint32_t id, JsonObject *obj) {
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
        g_autofree char *text = NULL;
        size_t len;

        json_node_set_object(node, obj);
        text = json_to_string(node, false);
        len = strlen(text);
        return kc_frame_append(out, (KcFrameKind) kind, id, text, len);
}

static int get_member(JsonObject *obj, const char *name, bool required, JsonNode **ret) {
        JsonNode *n = obj ? json_object_get_member(obj, name) : NULL;

        if (!n || JSON_NODE_HOLDS_NULL(n)) {
                *ret = NULL;
                return required ? -ENOENT : 0;
        }
        *ret = n;
        return 1;
}

int kc_json_get_string(JsonObject *obj, const char *name, size_t max_len, bool required, const char **ret) {
        JsonNode *n;
        const char *s;
        int r;

        r = get_member(obj, name, required, &n);
        if (r <= 0)
                return r;
        if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
                return -EINVAL;
        s = json_node_get_string(n);
        if (!s || strlen(s) > max_len)
                return -EINVAL;
        *ret = s;
        return 0;
}

int kc_json_get_id(JsonObject *obj, const char *name, bool required, const char **ret) {
        const char *s = NULL;
        int r;

        r = kc_json_get_string(obj, name, KC_ID_MAX, required, &s);
        if (r < 0)
                return r;
        if (s && !kc_id_is_valid(s))
                return -EINVAL;
        if (s)
                *ret = s;
        return 0;
}

int kc_json_get_int(JsonObject *obj, const char *name, int64_t min, int64_t max, bool required,
                    int64_t *ret) {
        JsonNode *n;
        int64_t v;
        int r;

        r = get_member(obj, name, required, &n);
        if (r <= 0)
                return r;
        if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
                return -EINVAL;
        v = json_node_get_int(n);
        if (v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int kc_json_get_bool(JsonObject *obj, const char *name, bool required, bool *ret) {
        JsonNode *n;
        int r;

        r = get_member(obj, name, required, &n);
        if (r <= 0)
                return r;
        if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
                return -EINVAL;
        *ret = json_node_get_boolean(n);
        return 0;
}

int kc_json_get_object(JsonObject *obj, const char *name, bool required, JsonObject **ret) {
        JsonNode *n;
        int r;

        r = get_member(obj, name, required, &n);
        if (r <= 0)
                return r;
        if (!JSON_NODE_HOLDS_OBJECT(n))
                return -EINVAL;
        *ret = json_node_get_object(n);
        return 0;
}

int kc_json_get_array(JsonObject *obj, const char *name, size_t max_len, bool required, JsonArray **ret) {
        JsonNode *n;
        int r;

        r = get_member(obj, name, required, &n);
        if (r <= 0)
                return r;
        if (!JSON_NODE_HOLDS_ARRAY(n) || json_array_get_length(json_node_get_array(n)) > max_len)
                return -EINVAL;
        *ret = json_node_get_array(n);
        return 0;
}

JsonObject *kc_request_new(const char *type) {
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "type", type);
        return o;
}

JsonObject *kc_event_new(const char *type) {
        return kc_request_new(type);
}

JsonObject *kc_reply_new_ok(void) {
        JsonObject *o = json_object_new();
        json_object_set_boolean_member(o, "ok", true);
        return o;
}

JsonObject *kc_reply_new_error(int error, const char *format, ...) {
        JsonObject *o = json_object_new();
        g_autofree char *msg = NULL;
        va_list ap;

        error = ABS(error);
        if (error < 1 || error > 4095)
                error = EIO;
        va_start(ap, format);
        msg = g_strdup_vprintf(format, ap);
        va_end(ap);
        if (strlen(msg) > KC_STRING_MAX)
                msg[KC_STRING_MAX] = '\0';
        if (!g_utf8_validate(msg, -1, NULL))
                g_strlcpy(msg, "(message not valid UTF-8)", strlen(msg) + 1);
        json_object_set_boolean_member(o, "ok", false);
        json_object_set_int_member(o, "errno", error);
        json_object_set_string_member(o, "message", msg);
        return o;
}

int kc_reply_parse(JsonObject *reply, const char **ret_message) {
        const char *msg = NULL;
        int64_t e = 0;
        bool ok;

        if (kc_json_get_bool(reply, "ok", true, &ok) < 0)
                return -EBADMSG;
        if (ok)
                return 0;
        if (kc_json_get_int(reply, "errno", 1, 4095, true, &e) < 0)
                return -EBADMSG;
        if (kc_json_get_string(reply, "message", KC_STRING_MAX, false, &msg) < 0)
                return -EBADMSG;
        if (ret_message)
                *ret_message = msg;
        return (int) -e;
}

int kc_event_parse_hello(JsonObject *ev, KcHello *ret) {
        KcHello h = {};
        const char *type = NULL;

        if (kc_json_get_string(ev, "type", 64, true, &type) < 0 || strcmp(type, "hello") != 0)
                return -EBADMSG;
        if (kc_json_get_int(ev, "protocol", 1, INT32_MAX, true, &h.protocol) < 0 ||
            kc_json_get_string(ev, "agent-version", 64, true, &h.agent_version) < 0 ||
            kc_json_get_string(ev, "kernel", 256, true, &h.kernel) < 0)
                return -EBADMSG;
        *ret = h;
        return 0;
}

int kc_exit_status_parse(JsonObject *obj, bool need_ids, KcExitStatus *ret) {
        KcExitStatus st = {.exit_code = -1};
        int64_t code = -1, sig = 0;

        if (kc_json_get_id(obj, "container-id", need_ids, &st.container_id) < 0 ||
            kc_json_get_id(obj, "exec-id", false, &st.exec_id) < 0 ||
            kc_json_get_int(obj, "pid", 0, INT32_MAX, false, &st.pid) < 0 ||
            kc_json_get_int(obj, "exit-code", 0, 255, false, &code) < 0 ||
            kc_json_get_int(obj, "signal", 1, 64, false, &sig) < 0 ||
            kc_json_get_bool(obj, "core-dumped", false, &st.core_dumped) < 0)
                return -EBADMSG;
        /* Exactly one of the two. */
        if ((code >= 0) == (sig > 0))
                return -EBADMSG;
        st.exit_code = (int) code;
        st.signal = (int) sig;
        *ret = st;
        return 0;
}

void kc_exit_status_to_json(JsonObject *obj, int wstatus) {
        if (WIFSIGNALED(wstatus)) {
                json_object_set_int_member(obj, "signal", WTERMSIG(wstatus));
                json_object_set_boolean_member(obj, "core-dumped", WCOREDUMP(wstatus));
        } else {
                json_object_set_int_member(obj, "exit-code", WEXITSTATUS(wstatus));
                json_object_set_boolean_member(obj, "core-dumped", false);
        }
}

int kc_exit_status_code(const KcExitStatus *st) {
        return st->signal > 0 ? 128 + st->signal : st->exit_code;
}
