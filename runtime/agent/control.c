/* kata-agent: requests that change a running container (update-container, pause/resume-container)
 * and the check that an exec's program can be started (127/126 like a shell). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "resources.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static Container *find_live(Agent *a, uint32_t id, JsonObject *req) {
        Container *c;
        int r;

        c = agent_find(a, req, NULL, &r);
        if (!c) {
                channel_reply_error(a->channel, id, r,
                                    r == -EINVAL ? "invalid container-id" : "no such container");
                return NULL;
        }
        if (c->init->spawning || c->init->exited || c->status == CONTAINER_STOPPED) {
                channel_reply_error(a->channel, id, EBUSY, "container %s is %s", c->id,
                                    c->init->spawning ? "still being created" : "stopped");
                return NULL;
        }
        return c;
}

void container_on_update(Agent *a, uint32_t id, JsonObject *req) {
        g_autoptr(JsonObject) guest = NULL;
        g_autoptr(JsonNode) node = NULL;
        g_autofree char *err = NULL, *text = NULL, *file = NULL;
        JsonObject *res = NULL;
        Container *c;
        int r;

        c = find_live(a, id, req);
        if (!c)
                return;
        if (kc_json_get_object(req, "resources", true, &res) < 0)
                return channel_reply_error(a->channel, id, EINVAL,
                                           "update-container needs a resources object");
        r = kc_resources_filter(res, &guest, &err);
        if (r < 0)
                return channel_reply_error(a->channel, id, r, "%s", err ?: "invalid resources");
        node = json_node_init_object(json_node_alloc(), guest);
        text = json_to_string(node, false);
        file = g_build_filename(c->bundle, "update.json", NULL);
        r = write_file_atomic(file, text, strlen(text), 0600, false);
        if (r < 0)
                return channel_reply_error(a->channel, id, r, "cannot write the resources file");
        const char *args[] = {"update", "--resources", file, c->id, NULL};
        r = runtime_run(a, args, NULL, &err);
        (void) unlink(file);
        if (r < 0)
                return channel_reply_error(a->channel, id, r, "%s", err ?: "update failed");
        channel_reply_ok(a->channel, id, NULL);
}

int container_set_paused(Agent *a, Container *c, bool pause, char **ret_error) {
        const char *args[] = {pause ? "pause" : "resume", c->id, NULL};
        int r;

        r = runtime_run(a, args, NULL, ret_error);
        if (r < 0)
                return r;
        c->paused = pause;
        return 0;
}

void container_on_pause(Agent *a, uint32_t id, JsonObject *req, bool pause) {
        g_autofree char *err = NULL;
        Container *c;
        int r;

        c = find_live(a, id, req);
        if (!c)
                return;
        if (c->status != CONTAINER_RUNNING)
                return channel_reply_error(a->channel, id, EBUSY, "container %s is not running", c->id);
        if (c->paused == pause)
                return channel_reply_error(a->channel, id, EBUSY, "container %s is %s", c->id,
                                           pause ? "already paused" : "not paused");
        r = container_set_paused(a, c, pause, &err);
        if (r < 0)
                return channel_reply_error(a->channel, id, r, "%s", err ?: "the runtime failed");
        channel_reply_ok(a->channel, id, NULL);
}

/* Looks path up inside the container's root (symlinks resolved there): 0 for an executable regular
 * file, -EACCES for something that cannot be executed, -ENOENT when absent. */
static int check_file(int root, const char *path) {
        struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = (int) syscall(SYS_openat2, root, path, &how, sizeof how);
        if (fd < 0)
                return errno == ENOSYS ? 0 : errno == EACCES ? -EACCES : -ENOENT;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0)
                return -EACCES;
        return 0;
}

static const char *process_path_env(JsonObject *process) {
        JsonArray *env = NULL;

        if (kc_json_get_array(process, "env", KC_JSON_MAX_MEMBERS, false, &env) < 0 || !env)
                return DEFAULT_PATH;
        for (guint i = 0; i < json_array_get_length(env); i++) {
                JsonNode *n = json_array_get_element(env, i);
                const char *s = JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
                                        ? json_node_get_string(n)
                                        : NULL;
                if (s && g_str_has_prefix(s, "PATH="))
                        return s + 5;
        }
        return DEFAULT_PATH;
}

int container_check_program(Container *c, JsonObject *process, char **ret_error) {
        g_autofree char *proc_root = NULL;
        _cleanup_close_ int root = -EBADF;
        const char *cwd = "/", *prog;
        JsonArray *args = NULL;
        int r = -ENOENT;

        if (kc_json_get_array(process, "args", KC_JSON_MAX_MEMBERS, true, &args) < 0 ||
            json_array_get_length(args) == 0 ||
            json_node_get_value_type(json_array_get_element(args, 0)) != G_TYPE_STRING)
                return 0; /* the runtime reports a malformed process itself */
        prog = json_array_get_string_element(args, 0);
        (void) kc_json_get_string(process, "cwd", KC_STRING_MAX, false, &cwd);
        proc_root = g_strdup_printf("/proc/%d/root", (int) c->init->pid);
        root = open(proc_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0 || !prog[0])
                return 0;
        if (strchr(prog, '/')) {
                g_autofree char *path = prog[0] == '/' ? g_strdup(prog) : g_build_filename(cwd, prog, NULL);
                r = check_file(root, path);
        } else {
                g_auto(GStrv) dirs = g_strsplit(process_path_env(process), ":", 256);
                bool denied = false;

                for (char **d = dirs; *d && r < 0; d++) {
                        g_autofree char *path = g_build_filename(**d ? *d : cwd, prog, NULL);
                        r = check_file(root, path);
                        denied |= r == -EACCES;
                }
                if (r < 0 && denied)
                        r = -EACCES;
        }
        if (r == -EACCES)
                *ret_error = g_strdup_printf("exec: \"%s\": permission denied", prog);
        else if (r < 0)
                *ret_error = g_strdup_printf(strchr(prog, '/')
                                                     ? "exec: \"%s\": no such file or directory"
                                                     : "exec: \"%s\": executable file not found in $PATH",
                                             prog);
        return r;
}
