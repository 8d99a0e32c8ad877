/* kc-agent-driver scenarios: exec of a program that cannot start (127/126), pause/resume-container,
 * update-container, and an OOM kill that ends the container (oom event before the exit event). */
#include <errno.h>
#include <string.h>

#include "driver.h"
#include "requests.h"

static bool exit_event_for(Ctx *ctx, const char *id, const char *exec_id) {
        g_autofree char *key = g_strdup_printf("exit:%s:%s", id, exec_id ?: "");

        for (guint i = 0; i < ctx->events->len; i++)
                if (strcmp(ctx->events->pdata[i], key) == 0)
                        return true;
        return false;
}

static void check_bad_program(Ctx *ctx, const char *id, const char *eid, const char *prog, int want_errno,
                              int64_t want_code) {
        const char *args[] = {prog, NULL};
        g_autoptr(JsonObject) process = make_process(args, false), req = NULL, reply = NULL;
        const char *msg = NULL;
        int64_t code = 0;
        int r;

        r = kc_request_exec(id, eid, process, false, 0, kc_agent_client_stream_alloc(ctx->client, false),
                            kc_agent_client_stream_alloc(ctx->client, false), &req);
        if (r == 0)
                r = call(ctx, req, &reply);
        if (reply) {
                (void) kc_reply_parse(reply, &msg);
                (void) kc_json_get_int(reply, "exit-code", 0, 255, false, &code);
        }
        ok(ctx, r == -want_errno && code == want_code && msg && strstr(msg, prog),
           "exec of %s: errno %d, exit-code %" G_GINT64_FORMAT " (got %d, %" G_GINT64_FORMAT ", %s)", prog,
           want_errno, want_code, r, code, msg ?: "no message");
}

static int update(Ctx *ctx, const char *id, const char *resources_json) {
        g_autoptr(JsonObject) req = kc_request_new("update-container");
        JsonObject *res = NULL;

        if (kc_json_parse_object(resources_json, strlen(resources_json), &res) < 0)
                return -EBADMSG;
        json_object_set_string_member(req, "container-id", id);
        json_object_set_object_member(req, "resources", res);
        return call(ctx, req, NULL);
}

static bool state_paused(Ctx *ctx, const char *id) {
        g_autoptr(JsonObject) req = NULL, reply = NULL;
        bool paused = false;

        if (kc_request_for_process("state", id, NULL, &req) < 0 || call(ctx, req, &reply) < 0)
                return false;
        (void) kc_json_get_bool(reply, "paused", true, &paused);
        return paused;
}

/* The container with its cgroup2 hierarchy at /sys/fs/cgroup (guest only). */
static int create_with_cgroup(Ctx *ctx, const char *id, const char *const *args, bool cgroup2,
                              char **ret_why) {
        g_autoptr(JsonObject) req = kc_request_new("create-container"), reply = NULL;
        const char *msg = NULL;
        JsonObject *spec = make_spec(args, false);
        int r;

        if (cgroup2) {
                /* As runc's default spec has them: sysfs, then the cgroup hierarchy. */
                static const char *const mounts[][2] = {{"/sys", "sysfs"}, {"/sys/fs/cgroup", "cgroup"}};
                for (size_t i = 0; i < G_N_ELEMENTS(mounts); i++) {
                        JsonObject *m = json_object_new();
                        JsonArray *o = json_array_new();
                        json_object_set_string_member(m, "destination", mounts[i][0]);
                        json_object_set_string_member(m, "type", mounts[i][1]);
                        json_object_set_string_member(m, "source", mounts[i][1]);
                        json_array_add_string_element(o, "nosuid");
                        json_array_add_string_element(o, "noexec");
                        json_array_add_string_element(o, "nodev");
                        json_array_add_string_element(o, "ro");
                        json_object_set_array_member(m, "options", o);
                        json_array_add_object_element(json_object_get_array_member(spec, "mounts"), m);
                }
        }
        r = prepare_rootfs(ctx, id);
        json_object_set_string_member(req, "container-id", id);
        json_object_set_object_member(req, "spec", spec);
        json_object_set_int_member(req, "stdout", kc_agent_client_stream_alloc(ctx->client, false));
        json_object_set_int_member(req, "stderr", kc_agent_client_stream_alloc(ctx->client, false));
        if (r < 0)
                return r;
        r = call(ctx, req, &reply);
        if (r < 0 && reply && kc_reply_parse(reply, &msg) < 0 && msg)
                *ret_why = g_strdup(msg);
        return r;
}

void test_control(Ctx *ctx, bool cgroup2) {
        const char *args[] = {"/bin/sleep", "1000", NULL};
        /* Without a cgroup namespace the whole hierarchy is mounted: find our own directory. */
        const char *cat[] = {"/bin/sh", "-c",
                             "cat /sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/memory.max", NULL};
        const char *echo[] = {"/bin/echo", "alive", NULL};
        g_autofree char *id = cid(ctx, "ctl"), *why = NULL;
        Streams s = {};
        int r;

        r = create_with_cgroup(ctx, id, args, cgroup2, &why);
        if (r == 0)
                r = simple(ctx, "start-container", id, NULL);
        ok(ctx, r == 0, "container for pause/update/exec checks started (%d %s)", r, why ?: "");

        check_bad_program(ctx, id, "bad1", "/no/such/binary", ENOENT, 127);
        check_bad_program(ctx, id, "bad2", "nosuchcmd", ENOENT, 127);
        check_bad_program(ctx, id, "bad3", "/etc/passwd", EACCES, 126);
        check_bad_program(ctx, id, "bad4", "/etc", EACCES, 126);
        (void) kc_agent_client_iterate(ctx->client, 200);
        ok(ctx, !exit_event_for(ctx, id, "bad1") && !exit_event_for(ctx, id, "bad3"),
           "no exit event for a program that never started");
        r = exec_in(ctx, id, "sym", (const char *[]){"sh", "-c", "exit 4", NULL}, false, &s);
        if (r == 0)
                r = wait_for(ctx, id, "sym", NULL);
        ok(ctx, r == 4, "a PATH lookup through an absolute symlink in the container still runs (%d)", r);

        r = simple(ctx, "pause-container", id, NULL);
        ok(ctx, r == 0 && state_paused(ctx, id), "pause-container: state says paused (%d)", r);
        ok(ctx, simple(ctx, "pause-container", id, NULL) == -EBUSY, "pause-container twice: EBUSY");
        r = exec_in(ctx, id, "frozen", echo, false, &s);
        ok(ctx, r == -EBUSY, "exec into a paused container: EBUSY (%d)", r);
        r = simple(ctx, "resume-container", id, NULL);
        ok(ctx, r == 0 && !state_paused(ctx, id), "resume-container: not paused any more (%d)", r);
        ok(ctx, simple(ctx, "resume-container", id, NULL) == -EBUSY, "resume-container when running: EBUSY");
        r = exec_in(ctx, id, "thawed", echo, false, &s);
        if (r == 0)
                r = wait_for(ctx, id, "thawed", NULL);
        ok(ctx, r == 0 && wait_output(ctx, s.out, "alive", 5000),
           "after resume the container runs execs (%d)", r);

        r = update(ctx, id, "{\"memory\":{\"limit\":50331648},\"pids\":{\"limit\":300}}");
        ok(ctx, r == 0, "update-container: memory and pids limits (%d)", r);
        if (cgroup2) {
                g_autofree char *text = NULL;
                r = exec_output(ctx, id, "cat", cat, &text);
                ok(ctx, r == 0 && strcmp(text, "50331648\n") == 0,
                   "the container's memory.max is the new limit (%d, '%s')", r, text);
        }
        ok(ctx, update(ctx, id, "{\"memory\":{\"limit\":\"big\"}}") == -EINVAL,
           "update-container: mistyped limit, EINVAL");
        ok(ctx, update(ctx, id, "{\"unified\":{\"../../x\":\"1\"}}") == -EINVAL,
           "update-container: a unified key that is a path, EINVAL");
        {
                g_autoptr(JsonObject) req = kc_request_new("update-container");
                json_object_set_string_member(req, "container-id", id);
                ok(ctx, call(ctx, req, NULL) == -EINVAL, "update-container without resources: EINVAL");
        }
        ok(ctx, update(ctx, "nope", "{}") == -ENOENT, "update-container of an unknown container: ENOENT");

        /* A paused container is removed all the same. */
        r = simple(ctx, "pause-container", id, NULL);
        if (r == 0)
                r = simple(ctx, "remove-container", id, NULL);
        ok(ctx, r == 0, "a paused container is force-removed (%d)", r);
}

/* The OOM kill ends the container: the oom event still comes, before the exit event. */
void test_oom_exit(Ctx *ctx) {
        const char *args[] = {"/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1", NULL};
        g_autofree char *id = cid(ctx, "oomexit");
        g_autofree char *oom_key = NULL, *exit_key = NULL;
        int oom_at = -1, exit_at = -1;
        int r;

        r = create_start_limited(ctx, id, args, 16 * 1024 * 1024);
        if (r == 0)
                r = wait_for(ctx, id, NULL, NULL);
        ok(ctx, r == 128 + 9, "a container over its memory limit is killed (status %d)", r);
        oom_key = g_strdup_printf("oom:%s", id);
        exit_key = g_strdup_printf("exit:%s:", id);
        for (guint i = 0; i < ctx->events->len; i++) {
                if (oom_at < 0 && strcmp(ctx->events->pdata[i], oom_key) == 0)
                        oom_at = (int) i;
                if (exit_at < 0 && strcmp(ctx->events->pdata[i], exit_key) == 0)
                        exit_at = (int) i;
        }
        ok(ctx, oom_at >= 0 && exit_at > oom_at, "its oom event comes before its exit event (%d, %d)",
           oom_at, exit_at);
        (void) simple(ctx, "remove-container", id, NULL);
}
