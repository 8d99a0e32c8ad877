/* Runtime root and the state.json the engine writes, through kata-runtime's state library. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "fd-util.h"
#include "fileio.h"
#include "kc-state.h"
#include "macro.h"
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

/* A KrState (kata-runtime's view, runtime/lib/state) of what the engine knows. */
static KrState *to_kr_state(const KcVmState *st, const char *created) {
        KrState *s = g_new0(KrState, 1);

        s->id = g_strdup(st->id);
        s->role = strcmp(st->role, "sandbox") == 0 ? KR_ROLE_SANDBOX : KR_ROLE_CONTAINER;
        s->sandbox_id = g_strdup(st->sandbox_id);
        s->bundle = g_strdup(st->bundle ? st->bundle : "");
        s->pid = st->pid;
        s->monitor_pid = st->monitor_pid;
        s->pid_start_time = st->pid_start_time;
        s->status = kr_status_from_string(st->status);
        s->created = g_strdup(created);
        s->has_exit_status = st->exit_status >= 0;
        s->exit_status = st->exit_status;
        s->sandbox_dir = g_strdup(st->sandbox_dir);
        s->annotations = st->annotations ? json_object_ref(st->annotations) : json_object_new();
        return s;
}

char *kc_vm_state_to_json(const KcVmState *st, const char *created) {
        g_autoptr(KrState) s = to_kr_state(st, created);

        return kr_state_serialize(s);
}

int kc_vm_state_write(const char *root, const KcVmState *st) {
        g_autofree char *dir = NULL, *created = now_rfc3339();
        g_autoptr(KrState) s = to_kr_state(st, created);
        _cleanup_close_ int lock = -EBADF;
        int r;

        r = kr_state_dir(root, st->id, &dir);
        if (r < 0)
                return r;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        r = kr_state_lock(root, st->id, true, &lock);
        if (r < 0)
                return r;
        return kr_state_save(root, s);
}

int kc_vm_state_mark_stopped(const char *root, const char *id, int exit_status) {
        g_autoptr(KrState) s = NULL;
        _cleanup_close_ int lock = -EBADF;
        int r;

        r = kr_state_lock(root, id, true, &lock);
        if (r < 0)
                return r;
        r = kr_state_load(root, id, &s);
        if (r < 0)
                return r;
        s->status = KR_STATUS_STOPPED;
        s->has_exit_status = true;
        s->exit_status = exit_status;
        return kr_state_save(root, s);
}
