/* kata-agent: the image's kernel modules, loaded by group when something needs them.
 *
 * kata-modules.load (written by the image builder): one absolute module path per line, in load
 * order, dependencies first; a line "@NAME" starts group NAME. A group lists its whole dependency
 * closure, so a path may appear in several groups; each path is loaded once. Lines before any
 * "@" line belong to every group (lists without groups load everything at the first request). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

#define MODULES_LIST_MAX (1024 * 1024)

void module_entry_free(ModuleEntry *e) {
        if (!e)
                return;
        g_free(e->path);
        g_free(e->group);
        g_free(e);
}

GPtrArray *modules_parse(const char *text) {
        GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify) module_entry_free);
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        const char *group = "";

        for (char **l = lines; *l; l++) {
                char *s = g_strstrip(*l);
                ModuleEntry *e;

                if (s[0] == '\0' || s[0] == '#')
                        continue;
                if (s[0] == '@') {
                        group = s + 1;
                        continue;
                }
                if (s[0] != '/') {
                        log_warning("Module list: '%s' is not an absolute path; ignored", s);
                        continue;
                }
                e = g_new0(ModuleEntry, 1);
                e->path = g_strdup(s);
                e->group = g_strdup(group);
                g_ptr_array_add(entries, e);
        }
        return entries;
}

static GPtrArray *modules;    /* ModuleEntry, in file order */
static GHashTable *done;      /* path -> path: loaded or tried */
static size_t modules_loaded; /* successfully */

int modules_read(const char *list) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_file_bounded(list, MODULES_LIST_MAX, &text, NULL);
        if (r == -ENOENT) {
                log_info("No module list %s", list);
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", list);
        if (modules)
                g_ptr_array_unref(modules);
        if (done)
                g_hash_table_destroy(done);
        modules = modules_parse(text);
        done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        modules_loaded = 0;
        return 0;
}

/* Loads one module unless it was tried before. Returns true when it was tried now. */
static bool load_one(const char *path) {
        _cleanup_close_ int fd = -EBADF;

        if (g_hash_table_contains(done, path))
                return false;
        g_hash_table_add(done, g_strdup(path));
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                log_warning_errno(errno, "Cannot open module %s: %m", path);
        else if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
                log_warning_errno(errno, "Cannot load module %s: %m", path);
        else
                modules_loaded++;
        return true;
}

bool modules_load_next(void) {
        for (guint i = 0; modules && i < modules->len; i++) {
                ModuleEntry *e = g_ptr_array_index(modules, i);
                if (load_one(e->path))
                        return true;
        }
        return false;
}

void modules_load_group(const char *group) {
        size_t n = 0;

        for (guint i = 0; modules && i < modules->len; i++) {
                ModuleEntry *e = g_ptr_array_index(modules, i);
                if ((e->group[0] == '\0' || strcmp(e->group, group) == 0) && load_one(e->path))
                        n++;
        }
        if (n > 0)
                log_info("Loaded %zu modules for %s (%zu in all, uptime %.3f s)", n, group, modules_loaded,
                         init_uptime());
}

void modules_load_all(void) {
        size_t n = 0;

        while (modules_load_next())
                n++;
        if (n > 0)
                log_info("Loaded the remaining %zu modules (%zu in all, uptime %.3f s)", n, modules_loaded,
                         init_uptime());
}

static gboolean on_load_next(gpointer userdata) {
        if (modules_load_next())
                return G_SOURCE_CONTINUE;
        log_info("Loaded %zu modules in all (uptime %.3f s)", modules_loaded, init_uptime());
        return G_SOURCE_REMOVE;
}

static gboolean on_load_later(gpointer userdata) {
        g_idle_add_full(G_PRIORITY_LOW, on_load_next, NULL, NULL);
        return G_SOURCE_REMOVE;
}

void modules_load_later(unsigned delay_ms) {
        static bool scheduled;

        if (scheduled || !modules)
                return;
        scheduled = true;
        g_timeout_add_full(G_PRIORITY_LOW, delay_ms, on_load_later, NULL, NULL);
}
