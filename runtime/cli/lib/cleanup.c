/* Mount and process clean-up for delete: detach mounts under a tree, wait for and kill verified pids. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fd-util.h"
#include "fileio.h"
#include "macro.h"
#include "kc-state.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape(const char *s) {
        char *out = g_malloc(strlen(s) + 1), *o = out;

        while (*s) {
                if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
                    s[3] >= '0' && s[3] <= '7') {
                        *o++ = (char) (((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
                        s += 4;
                } else
                        *o++ = *s++;
        }
        *o = 0;
        return out;
}

static gint deepest_first(gconstpointer a, gconstpointer b) {
        size_t la = strlen(*(const char *const *) a), lb = strlen(*(const char *const *) b);
        return la < lb ? 1 : la > lb ? -1 : 0;
}

GPtrArray *kr_mountinfo_below(const char *mountinfo, const char *dir) {
        GPtrArray *ret = g_ptr_array_new_with_free_func(g_free);
        g_auto(GStrv) lines = g_strsplit(mountinfo, "\n", -1);
        g_autofree char *prefix = NULL;
        size_t dlen = strlen(dir);

        /* Compare without a trailing slash so that "dir/" and "dir" mean the same. */
        while (dlen > 1 && dir[dlen - 1] == '/')
                dlen--;
        prefix = g_strndup(dir, dlen);

        for (char **l = lines; *l; l++) {
                g_auto(GStrv) f = g_strsplit(*l, " ", 6);
                g_autofree char *mp = NULL;

                if (g_strv_length(f) < 5)
                        continue;
                mp = unescape(f[4]);
                if (strcmp(mp, prefix) == 0 ||
                    (strncmp(mp, prefix, dlen) == 0 && (mp[dlen] == '/' || dlen == 1)))
                        g_ptr_array_add(ret, g_steal_pointer(&mp));
        }
        g_ptr_array_sort(ret, deepest_first);
        return ret;
}

int kr_umount_below(const char *dir) {
        int n = 0;

        for (int pass = 0; pass < 8; pass++) {
                g_autofree char *text = NULL;
                g_autoptr(GPtrArray) mps = NULL;
                size_t len;
                int r;

                r = read_file_bounded("/proc/self/mountinfo", 16 * 1024 * 1024, &text, &len);
                if (r < 0)
                        return r;
                mps = kr_mountinfo_below(text, dir);
                if (mps->len == 0)
                        return n;
                for (guint i = 0; i < mps->len; i++) {
                        if (umount2(mps->pdata[i], MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL &&
                            errno != ENOENT)
                                return negative_errno();
                        n++;
                }
        }
        return -EBUSY;
}

int kr_remove_tree(const char *dir) {
        int r;

        if (!dir || dir[0] != '/' || dir[1] == 0)
                return -EINVAL;
        if (access(dir, F_OK) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        r = kr_umount_below(dir);
        if (r < 0)
                return r;
        r = rm_rf(dir);
        return r == -ENOENT ? 0 : r;
}

bool kr_pid_comm_is(pid_t pid, const char *name) {
        g_autofree char *path = g_strdup_printf("/proc/%d/comm", (int) pid), *text = NULL;
        size_t len;

        if (pid <= 0 || read_file_bounded(path, 64, &text, &len) < 0)
                return false;
        g_strchomp(text);
        return strcmp(text, name) == 0;
}

bool kr_pid_cmdline_has(pid_t pid, const char *arg) {
        g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int) pid), *text = NULL;
        size_t len;

        if (pid <= 0 || read_file_bounded(path, 1024 * 1024, &text, &len) < 0)
                return false;
        for (size_t off = 0; off < len; off += strlen(text + off) + 1)
                if (strcmp(text + off, arg) == 0)
                        return true;
        return false;
}

static bool pid_gone(pid_t pid, uint64_t start_time) {
        uint64_t t;

        if (proc_start_time(pid, &t) < 0)
                return true;
        return start_time != 0 && t != start_time;
}

int kr_pid_wait_gone(pid_t pid, uint64_t start_time, int timeout_ms) {
        int64_t deadline = g_get_monotonic_time() + (int64_t) timeout_ms * 1000;

        if (pid <= 0)
                return 0;
        for (;;) {
                if (pid_gone(pid, start_time))
                        return 0;
                if (g_get_monotonic_time() >= deadline)
                        return -ETIMEDOUT;
                g_usleep(20 * 1000);
        }
}

int kr_read_pid_file(const char *path, pid_t *ret) {
        g_autofree char *text = NULL;
        size_t len;
        int pid, r;

        r = read_file_bounded(path, 64, &text, &len);
        if (r < 0)
                return r;
        g_strstrip(text);
        r = safe_atoi(text, &pid);
        if (r < 0 || pid <= 0)
                return -EINVAL;
        *ret = pid;
        return 0;
}
