/* kata-agent: the request dispatch table and the small requests (signal, wait, resize, state, ...). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "agent.h"
#include "log.h"

typedef void (*Handler)(Agent *a, uint32_t id, JsonObject *req);

static void reply_not_found(Agent *a, uint32_t id, int r) {
        channel_reply_error(a->channel, id, r,
                            r == -EINVAL ? "invalid container-id or exec-id"
                                         : "no such container or process");
}

static void on_ping(Agent *a, uint32_t id, JsonObject *req) {
        channel_reply_ok(a->channel, id, NULL);
}

static void on_create_sandbox(Agent *a, uint32_t id, JsonObject *req) {
        g_autoptr(JsonObject) res = json_object_new();
        g_autofree char *err = NULL;
        const char *fs = "none";
        int r = sandbox_create(a, req, &fs, &err);

        if (r < 0)
                return channel_reply_error(a->channel, id, r, "%s", err ?: "create-sandbox failed");
        json_object_set_string_member(res, "shared-fs", fs);
        channel_reply_ok(a->channel, id, res);
}

static void on_destroy_sandbox(Agent *a, uint32_t id, JsonObject *req) {
        channel_reply_ok(a->channel, id, NULL);
        sandbox_destroy(a);
}

static void on_create_container(Agent *a, uint32_t id, JsonObject *req) {
        (void) container_create(a, id, req);
}

static void on_start_container(Agent *a, uint32_t id, JsonObject *req) {
        (void) container_start(a, id, req);
}

static void on_exec(Agent *a, uint32_t id, JsonObject *req) {
        (void) container_exec(a, id, req);
}

static void on_signal(Agent *a, uint32_t id, JsonObject *req) {
        g_autofree char *err = NULL;
        Process *p = NULL;
        int64_t sig = 0;
        bool all = false;
        Container *c;
        int r;

        c = agent_find(a, req, &p, &r);
        if (!c)
                return reply_not_found(a, id, r);
        if (p->spawning)
                return channel_reply_error(a->channel, id, EBUSY, "the process is still being created");
        if (kc_json_get_int(req, "signal", 1, 64, true, &sig) < 0 ||
            kc_json_get_bool(req, "all", false, &all) < 0)
                return channel_reply_error(a->channel, id, EINVAL, "signal must be 1..64, all a boolean");
        if (p != c->init) {
                if (!p->exited && kill(p->pid, (int) sig) < 0 && errno != ESRCH)
                        return channel_reply_error(a->channel, id, errno, "kill: %s", g_strerror(errno));
        } else {
                r = container_kill(a, c, (int) sig, all, &err);
                if (r < 0)
                        return channel_reply_error(a->channel, id, r, "%s", err ?: "kill failed");
        }
        channel_reply_ok(a->channel, id, NULL);
}

static void on_wait(Agent *a, uint32_t id, JsonObject *req) {
        Process *p = NULL;
        int r;

        if (!agent_find(a, req, &p, &r))
                return reply_not_found(a, id, r);
        process_add_waiter(p, id);
}

static void on_resize(Agent *a, uint32_t id, JsonObject *req) {
        int64_t rows = 0, cols = 0;
        Process *p = NULL;
        int r;

        if (!agent_find(a, req, &p, &r))
                return reply_not_found(a, id, r);
        if (kc_json_get_int(req, "rows", 1, 65535, true, &rows) < 0 ||
            kc_json_get_int(req, "cols", 1, 65535, true, &cols) < 0)
                return channel_reply_error(a->channel, id, EINVAL, "rows and cols must be 1..65535");
        if (p->spawning)
                return channel_reply_error(a->channel, id, EBUSY, "the process is still being created");
        if (p->tty_fd < 0)
                return channel_reply_error(a->channel, id, ENOTTY, "process has no terminal");
        struct winsize ws = {.ws_row = (unsigned short) rows, .ws_col = (unsigned short) cols};
        if (ioctl(p->tty_fd, TIOCSWINSZ, &ws) < 0)
                return channel_reply_error(a->channel, id, errno, "TIOCSWINSZ: %s", g_strerror(errno));
        channel_reply_ok(a->channel, id, NULL);
}

static void on_close_stdin(Agent *a, uint32_t id, JsonObject *req) {
        Process *p = NULL;
        int r;

        if (!agent_find(a, req, &p, &r))
                return reply_not_found(a, id, r);
        (void) process_close_stdin(p);
        channel_reply_ok(a->channel, id, NULL);
}

static void on_remove_container(Agent *a, uint32_t id, JsonObject *req) {
        g_autofree char *err = NULL;
        bool force = false;
        Container *c;
        int r;

        c = agent_find(a, req, NULL, &r);
        if (!c)
                return reply_not_found(a, id, r);
        if (kc_json_get_bool(req, "force", false, &force) < 0)
                return channel_reply_error(a->channel, id, EINVAL, "force must be a boolean");
        r = container_remove(a, c, force, &err);
        if (r < 0)
                return channel_reply_error(a->channel, id, r, "%s", err ?: "remove failed");
        channel_reply_ok(a->channel, id, NULL);
}

static void on_state(Agent *a, uint32_t id, JsonObject *req) {
        g_autoptr(JsonObject) res = json_object_new();
        static const char *const names[] = {"created", "running", "stopped"};
        Process *p = NULL;
        Container *c;
        int r;

        c = agent_find(a, req, &p, &r);
        if (!c)
                return reply_not_found(a, id, r);
        json_object_set_string_member(res, "status",
                                      p->exited      ? "stopped"
                                      : p->spawning  ? "created"
                                      : p == c->init ? names[c->status]
                                                     : "running");
        json_object_set_int_member(res, "pid", p->pid);
        json_object_set_boolean_member(res, "paused", c->paused && !c->init->exited);
        channel_reply_ok(a->channel, id, res);
}

static void on_stats(Agent *a, uint32_t id, JsonObject *req) {
        g_autoptr(JsonObject) res = json_object_new();
        Container *c;
        int r;

        c = agent_find(a, req, NULL, &r);
        if (!c)
                return reply_not_found(a, id, r);
        r = container_stats(a, c, res);
        if (r < 0)
                return channel_reply_error(a->channel, id, r, "no cgroup for container %s", c->id);
        channel_reply_ok(a->channel, id, res);
}

static void on_update_container(Agent *a, uint32_t id, JsonObject *req) {
        container_on_update(a, id, req);
}

static void on_pause_container(Agent *a, uint32_t id, JsonObject *req) {
        container_on_pause(a, id, req, true);
}

static void on_resume_container(Agent *a, uint32_t id, JsonObject *req) {
        container_on_pause(a, id, req, false);
}

static const struct {
        const char *type;
        Handler handler;
} handlers[] = {
        {"ping", on_ping},
        {"create-sandbox", on_create_sandbox},
        {"destroy-sandbox", on_destroy_sandbox},
        {"create-container", on_create_container},
        {"start-container", on_start_container},
        {"exec", on_exec},
        {"signal", on_signal},
        {"wait", on_wait},
        {"resize", on_resize},
        {"close-stdin", on_close_stdin},
        {"remove-container", on_remove_container},
        {"state", on_state},
        {"stats", on_stats},
        {"update-container", on_update_container},
        {"pause-container", on_pause_container},
        {"resume-container", on_resume_container},
};

void agent_handle_request(Agent *a, uint32_t id, JsonObject *req) {
        const char *type = NULL;

        if (kc_json_get_string(req, "type", 64, true, &type) < 0)
                return channel_reply_error(a->channel, id, EINVAL, "request without a string type");
        for (size_t i = 0; i < G_N_ELEMENTS(handlers); i++)
                if (strcmp(handlers[i].type, type) == 0) {
                        log_debug("Request %u: %s (uptime %.3f s)", id, type, init_uptime());
                        handlers[i].handler(a, id, req);
                        return;
                }
        channel_reply_error(a->channel, id, ENOSYS, "unknown request type %s", type);
}
