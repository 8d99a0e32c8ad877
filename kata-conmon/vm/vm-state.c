/* Runtime root, process start times, and state.json under R/<id>/lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "macro.h"
#include "fd-util.h"
#include "fileio.h"
#include "message.h"
#include "vm-state.h"

char *kc_vm_runtime_root(char *const *args, const char *fallback) {
        const char *root = NULL;

        for (size_t i = 0; args && args[i]; i++) {
                if (g_str_has_prefix(args[i], "--root="))
                        root = args[i] + strlen("--root=");
                else if (strcmp(args[i], "--root") == 0 && args[i + 1])
                        root = args[++i];
        }
        if (root && root[0])
                return g_strdup(root);
        return g_strdup(fallback && fallback[0] ? fallback : KC_VM_DEFAULT_RUNTIME_ROOT);
}

static char *now_rfc3339(void) {
        struct timespec ts;
        struct tm tm;
        char buf[64];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        return g_strdup_printf("%s.%09ldZ", buf, ts.tv_nsec);
}

char *kc_vm_state_to_json(const KcVmState *st, const char *created) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonGenerator) gen = json_generator_new();
        g_autoptr(JsonNode) root = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "id");
        json_builder_add_string_value(b, st->id);
        json_builder_set_member_name(b, "role");
        json_builder_add_string_value(b, st->role);
        json_builder_set_member_name(b, "sandbox_id");
        json_builder_add_string_value(b, st->sandbox_id);
        json_builder_set_member_name(b, "bundle");
        json_builder_add_string_value(b, st->bundle ? st->bundle : "");
        json_builder_set_member_name(b, "pid");
        json_builder_add_int_value(b, st->pid);
        json_builder_set_member_name(b, "monitor_pid");
        json_builder_add_int_value(b, st->monitor_pid);
        json_builder_set_member_name(b, "pid_start_time");
        json_builder_add_int_value(b, (gint64) st->pid_start_time);
        json_builder_set_member_name(b, "status");
        json_builder_add_string_value(b, st->status);
        json_builder_set_member_name(b, "created");
        json_builder_add_string_value(b, created);
        if (st->exit_status >= 0) {
                json_builder_set_member_name(b, "exit_status");
                json_builder_add_int_value(b, st->exit_status);
        }
        json_builder_set_member_name(b, "annotations");
        if (st->annotations) {
                JsonNode *n = json_node_new(JSON_NODE_OBJECT);
                json_node_set_object(n, st->annotations);
                json_builder_add_value(b, n);
        } else {
                json_builder_begin_object(b);
                json_builder_end_object(b);
        }
        json_builder_set_member_name(b, "sandbox_dir");
        json_builder_add_string_value(b, st->sandbox_dir);
        json_builder_end_object(b);

        root = json_builder_get_root(b);
        json_generator_set_root(gen, root);
        json_generator_set_pretty(gen, true);
        return json_generator_to_data(gen, NULL);
}

static int lock_dir(const char *dir) {
        g_autofree char *path = g_build_filename(dir, "lock", NULL);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int kc_vm_state_write(const char *root, const KcVmState *st) {
        g_autofree char *dir = g_build_filename(root, st->id, NULL);
        g_autofree char *path = g_build_filename(dir, "state.json", NULL);
        g_autofree char *created = now_rfc3339();
        g_autofree char *json = NULL;
        _cleanup_close_ int lock = -EBADF;
        int r;

        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        lock = lock_dir(dir);
        if (lock < 0)
                return lock;
        json = kc_vm_state_to_json(st, created);
        return write_file_atomic(path, json, strlen(json), 0600, false);
}

int kc_vm_state_mark_stopped(const char *root, const char *id, int exit_status) {
        g_autofree char *dir = g_build_filename(root, id, NULL);
        g_autofree char *path = g_build_filename(dir, "state.json", NULL);
        g_autoptr(JsonObject) obj = NULL;
        g_autoptr(JsonGenerator) gen = json_generator_new();
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int lock = -EBADF;
        g_autofree char *json = NULL;
        size_t len = 0;
        int r;

        if (access(dir, F_OK) < 0)
                return -errno;
        lock = lock_dir(dir);
        if (lock < 0)
                return lock;
        r = read_file_bounded(path, 1024 * 1024, &text, &len);
        if (r < 0)
                return r;
        r = kc_json_parse_object(text, len, &obj);
        if (r < 0)
                return r;
        json_object_set_string_member(obj, "status", "stopped");
        json_object_set_int_member(obj, "exit_status", exit_status);
        json_node_set_object(node, obj);
        json_generator_set_root(gen, node);
        json_generator_set_pretty(gen, true);
        json = json_generator_to_data(gen, NULL);
        return write_file_atomic(path, json, strlen(json), 0600, false);
}
