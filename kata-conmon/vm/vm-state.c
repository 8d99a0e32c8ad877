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

int kc_vm_state_write(const char *root, KrState *st) {
        g_autofree char *dir = NULL;
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
        g_free(st->created);
        st->created = now_rfc3339();
        return kr_state_save(root, st);
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
