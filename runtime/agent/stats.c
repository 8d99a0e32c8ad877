/* kata-agent: container statistics and OOM events from the guest's cgroup2 files. */
#include <errno.h>
#include <string.h>

#include "agent.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"

char *agent_cgroup_path(Agent *a, const char *container_id) {
        return g_strdup_printf(a->init_mode ? "/kata/%s" : "/kata-%s", container_id);
}

static char *cgroup_file(Agent *a, Container *c, const char *name) {
        g_autofree char *path = agent_cgroup_path(a, c->id);
        return g_strdup_printf("%s%s/%s", a->cgroup_root, path, name);
}

/* Reads one unsigned number ("max" reads as 0 = no limit). */
static int read_u64(const char *path, uint64_t *ret) {
        g_autofree char *s = NULL;
        int r;

        r = read_file_bounded(path, 64, &s, NULL);
        if (r < 0)
                return r;
        g_strstrip(s);
        if (strcmp(s, "max") == 0) {
                *ret = 0;
                return 0;
        }
        if (!g_ascii_string_to_unsigned(s, 10, 0, G_MAXINT64, (guint64 *) ret, NULL))
                return -EBADMSG;
        return 0;
}

/* Reads "key value" lines (cpu.stat, memory.events). */
static int read_keyed(const char *path, const char *key, uint64_t *ret) {
        g_autofree char *s = NULL;
        g_auto(GStrv) lines = NULL;
        size_t klen = strlen(key);
        int r;

        r = read_file_bounded(path, 16384, &s, NULL);
        if (r < 0)
                return r;
        lines = g_strsplit(s, "\n", -1);
        for (char **l = lines; *l; l++)
                if (strncmp(*l, key, klen) == 0 && (*l)[klen] == ' ')
                        return g_ascii_string_to_unsigned(*l + klen + 1, 10, 0, G_MAXINT64, (guint64 *) ret,
                                                          NULL)
                                       ? 0
                                       : -EBADMSG;
        return -ENOENT;
}

int container_stats(Agent *a, Container *c, JsonObject *result) {
        static const struct {
                const char *file, *key, *member;
        } items[] = {
                {"memory.current", NULL, "memory-usage"},
                {"memory.max", NULL, "memory-limit"},
                {"memory.peak", NULL, "memory-max-usage"},
                {"cpu.stat", "usage_usec", "cpu-usage-usec"},
                {"cpu.stat", "user_usec", "cpu-user-usec"},
                {"cpu.stat", "system_usec", "cpu-system-usec"},
                {"pids.current", NULL, "pids"},
        };
        g_autofree char *dir = cgroup_file(a, c, "");

        if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
                return -ENOENT;
        for (size_t i = 0; i < G_N_ELEMENTS(items); i++) {
                g_autofree char *path = cgroup_file(a, c, items[i].file);
                uint64_t v = 0;

                /* A controller that is not enabled reads as 0. */
                if (items[i].key)
                        (void) read_keyed(path, items[i].key, &v);
                else
                        (void) read_u64(path, &v);
                json_object_set_int_member(result, items[i].member, (gint64) v);
        }
        return 0;
}

void container_check_oom(Agent *a, Container *c) {
        g_autofree char *path = cgroup_file(a, c, "memory.events");
        uint64_t kills = 0;

        if (read_keyed(path, "oom_kill", &kills) < 0 || kills <= c->oom_kills)
                return;
        c->oom_kills = kills;
        log_info("Container %s: OOM kill", c->id);
        g_autoptr(JsonObject) ev = kc_event_new("oom");
        json_object_set_string_member(ev, "container-id", c->id);
        (void) channel_send_json(a->channel, KC_FRAME_EVENT, 0, ev);
}

void agent_check_oom(Agent *a) {
        GHashTableIter it;
        gpointer value;

        g_hash_table_iter_init(&it, a->containers);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                Container *c = value;

                /* An OOM kill that ended the container was checked when its init exited. */
                if (c->status == CONTAINER_STOPPED && c->init->exited)
                        continue;
                container_check_oom(a, c);
        }
}
