/* state.json parsing/serialisation, the per-container lock, pid liveness and the OCI state object. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"
#include "message.h"
#include "proc-util.h"
#include "kc-state.h"

static const char *const status_names[_KR_STATUS_MAX] = {
        [KR_STATUS_CREATED] = "created",
        [KR_STATUS_RUNNING] = "running",
        [KR_STATUS_PAUSED] = "paused",
        [KR_STATUS_STOPPED] = "stopped",
};

const char *kr_status_to_string(KrStatus s) {
        if (s < 0 || s >= _KR_STATUS_MAX)
                return NULL;
        return status_names[s];
}

KrStatus kr_status_from_string(const char *s) {
        if (!s)
                return _KR_STATUS_INVALID;
        for (int i = 0; i < _KR_STATUS_MAX; i++)
                if (strcmp(s, status_names[i]) == 0)
                        return i;
        return _KR_STATUS_INVALID;
}

void kr_state_free(KrState *s) {
        if (!s)
                return;
        g_free(s->id);
        g_free(s->sandbox_id);
        g_free(s->bundle);
        g_free(s->created);
        g_free(s->sandbox_dir);
        if (s->annotations)
                json_object_unref(s->annotations);
        if (s->raw)
                json_object_unref(s->raw);
        g_free(s);
}

static int get_pid(JsonObject *o, const char *name, pid_t *ret) {
        int64_t v = 0;
        int r = kc_json_get_int(o, name, 0, INT32_MAX, false, &v);
        if (r < 0)
                return r;
        *ret = (pid_t) v;
        return 0;
}

static int dup_string(JsonObject *o, const char *name, bool required, char **ret) {
        const char *v = NULL;
        int r = kc_json_get_string(o, name, 4096, required, &v);
        if (r < 0)
                return r;
        /* A JSON null reads as "absent". */
        *ret = g_strdup(v && *v ? v : NULL);
        return 0;
}

int kr_state_parse(const char *text, size_t len, KrState **ret) {
        g_autoptr(KrState) s = g_new0(KrState, 1);
        g_autofree char *role = NULL, *status = NULL;
        JsonObject *ann = NULL;
        int64_t v;
        int r;

        r = kc_json_parse_object(text, len, &s->raw);
        if (r < 0)
                return -EBADMSG;

        if (dup_string(s->raw, "id", true, &s->id) < 0 || !s->id || !kc_id_is_valid(s->id))
                return -EBADMSG;
        if (dup_string(s->raw, "role", false, &role) < 0 ||
            dup_string(s->raw, "sandbox_id", false, &s->sandbox_id) < 0 ||
            dup_string(s->raw, "bundle", false, &s->bundle) < 0 ||
            dup_string(s->raw, "status", true, &status) < 0 ||
            dup_string(s->raw, "created", false, &s->created) < 0 ||
            dup_string(s->raw, "sandbox_dir", false, &s->sandbox_dir) < 0)
                return -EBADMSG;

        if (!role || strcmp(role, "sandbox") == 0)
                s->role = KR_ROLE_SANDBOX;
        else if (strcmp(role, "container") == 0)
                s->role = KR_ROLE_CONTAINER;
        else
                return -EBADMSG;
        if (s->sandbox_id && !kc_id_is_valid(s->sandbox_id))
                return -EBADMSG;
        if (s->role == KR_ROLE_CONTAINER && !s->sandbox_id)
                return -EBADMSG;
        if (!s->sandbox_id)
                s->sandbox_id = g_strdup(s->id);

        s->status = kr_status_from_string(status);
        if (s->status < 0)
                return -EBADMSG;

        if (get_pid(s->raw, "pid", &s->pid) < 0 || get_pid(s->raw, "monitor_pid", &s->monitor_pid) < 0)
                return -EBADMSG;
        v = 0;
        if (kc_json_get_int(s->raw, "pid_start_time", 0, INT64_MAX, false, &v) < 0)
                return -EBADMSG;
        s->pid_start_time = (uint64_t) v;

        if (json_object_has_member(s->raw, "exit_status") &&
            !JSON_NODE_HOLDS_NULL(json_object_get_member(s->raw, "exit_status"))) {
                if (kc_json_get_int(s->raw, "exit_status", 0, 255 + 128, true, &v) < 0)
                        return -EBADMSG;
                s->has_exit_status = true;
                s->exit_status = (int) v;
        }

        r = kc_json_get_object(s->raw, "annotations", false, &ann);
        if (r < 0 && !(json_object_has_member(s->raw, "annotations") &&
                       JSON_NODE_HOLDS_NULL(json_object_get_member(s->raw, "annotations"))))
                return -EBADMSG;
        s->annotations = ann ? json_object_ref(ann) : json_object_new();

        *ret = g_steal_pointer(&s);
        return 0;
}

static void set_string(JsonObject *o, const char *name, const char *v) {
        if (v)
                json_object_set_string_member(o, name, v);
        else
                json_object_remove_member(o, name);
}

char *kr_state_serialize(KrState *s) {
        JsonObject *o = s->raw;
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);

        if (!o)
                o = s->raw = json_object_new();
        set_string(o, "id", s->id);
        set_string(o, "role", s->role == KR_ROLE_SANDBOX ? "sandbox" : "container");
        set_string(o, "sandbox_id", s->sandbox_id);
        set_string(o, "bundle", s->bundle);
        json_object_set_int_member(o, "pid", s->pid);
        json_object_set_int_member(o, "monitor_pid", s->monitor_pid);
        json_object_set_int_member(o, "pid_start_time", (gint64) s->pid_start_time);
        set_string(o, "status", kr_status_to_string(s->status));
        set_string(o, "created", s->created);
        if (s->has_exit_status)
                json_object_set_int_member(o, "exit_status", s->exit_status);
        else
                json_object_remove_member(o, "exit_status");
        set_string(o, "sandbox_dir", s->sandbox_dir);
        json_object_set_object_member(o, "annotations", json_object_ref(s->annotations));

        json_node_set_object(node, o);
        return json_to_string(node, true);
}

int kr_state_dir(const char *root, const char *id, char **ret) {
        if (!id || !kc_id_is_valid(id))
                return -EINVAL;
        *ret = g_build_filename(root, id, NULL);
        return 0;
}

int kr_state_lock(const char *root, const char *id, bool exclusive, int *ret_lock_fd) {
        g_autofree char *dir = NULL, *path = NULL;
        int r;

        r = kr_state_dir(root, id, &dir);
        if (r < 0)
                return r;
        path = g_build_filename(dir, "lock", NULL);

        for (;;) {
                _cleanup_close_ int fd = -EBADF;
                struct stat a, b;

                /* Never create the directory: a missing one means no such container. */
                fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return errno == ENOTDIR ? -ENOENT : negative_errno();
                if (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
                        return negative_errno();
                /* delete removes the directory under the lock: make sure ours is still the one
                 * at that path, else start over (or report the container gone). */
                if (fstat(fd, &a) < 0)
                        return negative_errno();
                if (stat(path, &b) < 0) {
                        if (errno != ENOENT)
                                return negative_errno();
                        if (access(dir, F_OK) < 0)
                                return -ENOENT;
                        continue;
                }
                if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
                        continue;
                *ret_lock_fd = TAKE_FD(fd);
                return 0;
        }
}

int kr_state_load(const char *root, const char *id, KrState **ret) {
        g_autofree char *dir = NULL, *path = NULL, *text = NULL;
        size_t len;
        int r;

        r = kr_state_dir(root, id, &dir);
        if (r < 0)
                return r;
        path = g_build_filename(dir, "state.json", NULL);
        r = read_file_bounded(path, KR_STATE_MAX, &text, &len);
        if (r < 0)
                return r == -ENOTDIR ? -ENOENT : r;
        r = kr_state_parse(text, len, ret);
        if (r < 0)
                return r;
        if (strcmp((*ret)->id, id) != 0) {
                g_clear_pointer(ret, kr_state_free);
                return -EBADMSG;
        }
        return 0;
}

int kr_state_save(const char *root, KrState *s) {
        g_autofree char *dir = NULL, *path = NULL, *text = NULL;
        int r;

        r = kr_state_dir(root, s->id, &dir);
        if (r < 0)
                return r;
        path = g_build_filename(dir, "state.json", NULL);
        text = kr_state_serialize(s);
        return write_file_atomic(path, text, strlen(text), 0600, false);
}

bool kr_state_pid_alive(const KrState *s) {
        uint64_t t;

        if (s->pid <= 0)
                return false;
        if (kill(s->pid, 0) < 0 && errno == ESRCH)
                return false;
        if (proc_start_time(s->pid, &t) < 0)
                return false;
        /* A recorded start time of 0 means the writer did not know it: trust the pid alone. */
        return s->pid_start_time == 0 || t == s->pid_start_time;
}

KrStatus kr_state_effective_status(const KrState *s) {
        if (s->status == KR_STATUS_STOPPED)
                return KR_STATUS_STOPPED;
        if (s->pid <= 0)
                /* created without a pid yet: only as long as its monitor lives. */
                return s->monitor_pid > 0 && kill(s->monitor_pid, 0) == 0 ? s->status : KR_STATUS_STOPPED;
        return kr_state_pid_alive(s) ? s->status : KR_STATUS_STOPPED;
}

JsonObject *kr_oci_state_build(const KrState *s, KrStatus status) {
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "ociVersion", KR_OCI_VERSION);
        json_object_set_string_member(o, "id", s->id);
        json_object_set_string_member(o, "status", kr_status_to_string(status));
        json_object_set_int_member(o, "pid", status == KR_STATUS_STOPPED ? 0 : s->pid);
        json_object_set_string_member(o, "bundle", s->bundle ? s->bundle : "");
        if (s->created)
                json_object_set_string_member(o, "created", s->created);
        json_object_set_object_member(o, "annotations", json_object_ref(s->annotations));
        return o;
}

int kr_status_check(KrStatus from, KrVerb verb, const char **ret_reason) {
        const char *reason = NULL;

        switch (verb) {
        case KR_VERB_START:
                if (from == KR_STATUS_RUNNING)
                        reason = "cannot start an already running container";
                else if (from == KR_STATUS_PAUSED)
                        reason = "cannot start a paused container";
                else if (from == KR_STATUS_STOPPED)
                        reason = "cannot start a container that has stopped";
                break;
        case KR_VERB_PAUSE:
                if (from == KR_STATUS_PAUSED)
                        reason = "container already paused";
                else if (from == KR_STATUS_STOPPED)
                        reason = "container not running";
                break;
        case KR_VERB_RESUME:
                if (from == KR_STATUS_STOPPED)
                        reason = "container not running";
                else if (from != KR_STATUS_PAUSED)
                        reason = "container not paused";
                break;
        case KR_VERB_KILL:
        case KR_VERB_UPDATE:
                if (from == KR_STATUS_STOPPED)
                        reason = "container not running";
                break;
        case KR_VERB_EXEC:
                if (from == KR_STATUS_PAUSED)
                        reason = "cannot exec in a paused container";
                else if (from == KR_STATUS_STOPPED)
                        reason = "cannot exec in a stopped container: container not running";
                break;
        case KR_VERB_DELETE:
                if (from == KR_STATUS_RUNNING || from == KR_STATUS_PAUSED)
                        reason = from == KR_STATUS_RUNNING
                                         ? "cannot delete container that is not stopped: running"
                                         : "cannot delete container that is not stopped: paused";
                break;
        }
        if (reason) {
                if (ret_reason)
                        *ret_reason = reason;
                return -EBUSY;
        }
        return 0;
}
