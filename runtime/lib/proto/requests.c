/* Typed request builders (validated before anything is sent) and typed reply/event parsers. */
#include <errno.h>
#include <string.h>

#include "frame.h"
#include "requests.h"
#include "resources.h"

static bool stream_ok(uint32_t s) {
        return s <= KC_STREAM_ID_MAX;
}

static bool streams_distinct(uint32_t a, uint32_t b, uint32_t c) {
        return (a == 0 || (a != b && a != c)) && (b == 0 || b != c);
}

static void set_streams(JsonObject *o, bool tty, uint32_t in, uint32_t out, uint32_t err) {
        json_object_set_boolean_member(o, "tty", tty);
        json_object_set_int_member(o, "stdin", in);
        json_object_set_int_member(o, "stdout", out);
        json_object_set_int_member(o, "stderr", tty ? 0 : err);
}

int kc_request_create_sandbox(const char *hostname, const char *const *dns, const char *shared_fs_type,
                              const char *shared_fs_tag, JsonObject **ret) {
        g_autoptr(JsonObject) o = NULL;
        JsonObject *fs;
        JsonArray *a;
        size_t n = 0;

        if (hostname && (strlen(hostname) > 64 || strpbrk(hostname, "/\n")))
                return -EINVAL;
        if (shared_fs_type && strcmp(shared_fs_type, "virtio-fs") != 0 &&
            strcmp(shared_fs_type, "9p") != 0 && strcmp(shared_fs_type, "none") != 0)
                return -EINVAL;
        if (shared_fs_tag && (strlen(shared_fs_tag) == 0 || strlen(shared_fs_tag) > 36))
                return -EINVAL;
        for (const char *const *d = dns; d && *d; d++, n++)
                if (strlen(*d) > 256 || strpbrk(*d, "\r\n") || n >= 32)
                        return -EINVAL;

        o = kc_request_new("create-sandbox");
        if (hostname)
                json_object_set_string_member(o, "hostname", hostname);
        a = json_array_new();
        for (const char *const *d = dns; d && *d; d++)
                json_array_add_string_element(a, *d);
        json_object_set_array_member(o, "dns", a);
        fs = json_object_new();
        json_object_set_string_member(fs, "type", shared_fs_type ?: "virtio-fs");
        json_object_set_string_member(fs, "tag", shared_fs_tag ?: "kataShared");
        json_object_set_object_member(o, "shared-fs", fs);
        *ret = g_steal_pointer(&o);
        return 0;
}

/* A deep copy (json_node_copy() shares the members): the request must not change with the caller's. */
static JsonNode *copy_object(JsonObject *obj) {
        g_autoptr(JsonNode) n = json_node_init_object(json_node_alloc(), obj);
        g_autofree char *text = json_to_string(n, false);
        return json_from_string(text, NULL);
}

int kc_request_create_container(const char *container_id, JsonObject *spec, bool tty, uint32_t stdin_stream,
                                uint32_t stdout_stream, uint32_t stderr_stream, JsonObject **ret) {
        JsonObject *o;

        if (!kc_id_is_valid(container_id) || !spec || !stream_ok(stdin_stream) ||
            !stream_ok(stdout_stream) || !stream_ok(stderr_stream) ||
            !streams_distinct(stdin_stream, stdout_stream, tty ? 0 : stderr_stream))
                return -EINVAL;
        o = kc_request_new("create-container");
        json_object_set_string_member(o, "container-id", container_id);
        json_object_set_member(o, "spec", copy_object(spec));
        set_streams(o, tty, stdin_stream, stdout_stream, stderr_stream);
        *ret = o;
        return 0;
}

int kc_request_exec(const char *container_id, const char *exec_id, JsonObject *process, bool tty,
                    uint32_t stdin_stream, uint32_t stdout_stream, uint32_t stderr_stream,
                    JsonObject **ret) {
        JsonObject *o;

        if (!kc_id_is_valid(container_id) || !kc_id_is_valid(exec_id) || !process ||
            !stream_ok(stdin_stream) || !stream_ok(stdout_stream) || !stream_ok(stderr_stream) ||
            !streams_distinct(stdin_stream, stdout_stream, tty ? 0 : stderr_stream))
                return -EINVAL;
        o = kc_request_new("exec");
        json_object_set_string_member(o, "container-id", container_id);
        json_object_set_string_member(o, "exec-id", exec_id);
        json_object_set_member(o, "process", copy_object(process));
        set_streams(o, tty, stdin_stream, stdout_stream, stderr_stream);
        *ret = o;
        return 0;
}

int kc_request_for_process(const char *type, const char *container_id, const char *exec_id,
                           JsonObject **ret) {
        static const char *const types[] = {
                "start-container",  "wait", "close-stdin", "state", "stats", "pause-container",
                "resume-container", NULL};
        bool known = false;
        JsonObject *o;

        for (const char *const *t = types; *t; t++)
                known |= strcmp(*t, type) == 0;
        if (!known || !kc_id_is_valid(container_id) || (exec_id && !kc_id_is_valid(exec_id)))
                return -EINVAL;
        if (exec_id && (strcmp(type, "start-container") == 0 || strcmp(type, "stats") == 0 ||
                        strcmp(type, "pause-container") == 0 || strcmp(type, "resume-container") == 0))
                return -EINVAL;
        o = kc_request_new(type);
        json_object_set_string_member(o, "container-id", container_id);
        if (exec_id)
                json_object_set_string_member(o, "exec-id", exec_id);
        *ret = o;
        return 0;
}

int kc_request_signal(const char *container_id, const char *exec_id, int signal, bool all,
                      JsonObject **ret) {
        JsonObject *o;
        int r;

        if (signal < 1 || signal > 64)
                return -EINVAL;
        r = kc_request_for_process("state", container_id, exec_id, &o);
        if (r < 0)
                return r;
        json_object_set_string_member(o, "type", "signal");
        json_object_set_int_member(o, "signal", signal);
        json_object_set_boolean_member(o, "all", all);
        *ret = o;
        return 0;
}

int kc_request_resize(const char *container_id, const char *exec_id, unsigned rows, unsigned cols,
                      JsonObject **ret) {
        JsonObject *o;
        int r;

        if (rows < 1 || rows > 65535 || cols < 1 || cols > 65535)
                return -EINVAL;
        r = kc_request_for_process("state", container_id, exec_id, &o);
        if (r < 0)
                return r;
        json_object_set_string_member(o, "type", "resize");
        json_object_set_int_member(o, "rows", rows);
        json_object_set_int_member(o, "cols", cols);
        *ret = o;
        return 0;
}

int kc_request_remove_container(const char *container_id, bool force, JsonObject **ret) {
        JsonObject *o;

        if (!kc_id_is_valid(container_id))
                return -EINVAL;
        o = kc_request_new("remove-container");
        json_object_set_string_member(o, "container-id", container_id);
        json_object_set_boolean_member(o, "force", force);
        *ret = o;
        return 0;
}

int kc_request_update_container(const char *container_id, JsonObject *resources, JsonObject **ret,
                                char **ret_error) {
        g_autoptr(JsonObject) filtered = NULL;
        JsonObject *o;
        int r;

        if (!kc_id_is_valid(container_id)) {
                if (ret_error)
                        *ret_error = g_strdup("invalid container id");
                return -EINVAL;
        }
        r = kc_resources_filter(resources, &filtered, ret_error);
        if (r < 0)
                return r;
        o = kc_request_new("update-container");
        json_object_set_string_member(o, "container-id", container_id);
        json_object_set_object_member(o, "resources", g_steal_pointer(&filtered));
        *ret = o;
        return 0;
}

int kc_reply_get_pid(JsonObject *reply, int64_t *ret_pid) {
        return kc_json_get_int(reply, "pid", 1, INT32_MAX, true, ret_pid) < 0 ? -EBADMSG : 0;
}

int kc_reply_get_state(JsonObject *reply, KcProcessStatus *ret_status, int64_t *ret_pid) {
        static const char *const names[] = {"created", "running", "stopped"};
        const char *status = NULL;
        int64_t pid = 0;

        if (kc_json_get_string(reply, "status", 16, true, &status) < 0 ||
            kc_json_get_int(reply, "pid", 0, INT32_MAX, true, &pid) < 0)
                return -EBADMSG;
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
                if (strcmp(names[i], status) == 0) {
                        *ret_status = (KcProcessStatus) i;
                        *ret_pid = pid;
                        return 0;
                }
        return -EBADMSG;
}

int kc_reply_get_stats(JsonObject *reply, KcStats *ret) {
        KcStats st = {};
        struct {
                const char *name;
                int64_t *v;
        } fields[] = {
                {"memory-usage", &st.memory_usage},
                {"memory-limit", &st.memory_limit},
                {"memory-max-usage", &st.memory_max_usage},
                {"cpu-usage-usec", &st.cpu_usage_usec},
                {"cpu-user-usec", &st.cpu_user_usec},
                {"cpu-system-usec", &st.cpu_system_usec},
                {"pids", &st.pids},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
                if (kc_json_get_int(reply, fields[i].name, 0, G_MAXINT64, true, fields[i].v) < 0)
                        return -EBADMSG;
        *ret = st;
        return 0;
}

int kc_event_get_oom(JsonObject *event, const char **ret_container_id) {
        const char *type = NULL, *id = NULL;

        if (kc_json_get_string(event, "type", 64, true, &type) < 0 || strcmp(type, "oom") != 0 ||
            kc_json_get_id(event, "container-id", true, &id) < 0)
                return -EBADMSG;
        *ret_container_id = id;
        return 0;
}
