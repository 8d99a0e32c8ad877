/* kc-agent-driver helpers: collecting stream data and events, OCI specs, request shortcuts. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "driver.h"
#include "requests.h"
#include "fd-util.h"
#include "macro.h"

void on_data(KcAgentClient *c, uint32_t stream, const uint8_t *buf, size_t len, void *userdata) {
        Ctx *ctx = userdata;
        GByteArray *b = g_hash_table_lookup(ctx->bufs, GUINT_TO_POINTER(stream));

        if (!b) {
                b = g_byte_array_new();
                g_hash_table_insert(ctx->bufs, GUINT_TO_POINTER(stream), b);
        }
        if (len == 0)
                g_hash_table_add(ctx->eofs, GUINT_TO_POINTER(stream));
        g_byte_array_append(b, buf, (guint) len);
        /* A held stream plays a consumer that stopped reading: no credit goes back. */
        if (stream != ctx->held_stream)
                (void) kc_agent_client_consumed(c, stream, len);
}

void on_event(KcAgentClient *c, const char *type, JsonObject *ev, void *userdata) {
        Ctx *ctx = userdata;

        const char *id = NULL, *eid = NULL;

        (void) kc_json_get_id(ev, "container-id", false, &id);
        (void) kc_json_get_id(ev, "exec-id", false, &eid);
        if (strcmp(type, "exit") == 0) {
                g_ptr_array_add(ctx->exit_events, json_object_ref(ev));
                g_ptr_array_add(ctx->events, g_strdup_printf("exit:%s:%s", id ?: "", eid ?: ""));
        }
        if (strcmp(type, "oom") == 0 && id) {
                g_ptr_array_add(ctx->oom_events, g_strdup(id));
                g_ptr_array_add(ctx->events, g_strdup_printf("oom:%s", id));
        }
}

void ok(Ctx *ctx, bool pass, const char *fmt, ...) {
        g_autofree char *msg = NULL, *raw = NULL;
        va_list ap;

        va_start(ap, fmt);
        raw = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        msg = g_strescape(raw, NULL);
        ctx->tests++;
        if (!pass)
                ctx->failed++;
        printf("%s %d - %s\n", pass ? "ok" : "not ok", ctx->tests, msg);
        fflush(stdout);
}

char *stream_text(Ctx *ctx, uint32_t id) {
        GByteArray *b = g_hash_table_lookup(ctx->bufs, GUINT_TO_POINTER(id));
        return b ? g_strndup((const char *) b->data, b->len) : g_strdup("");
}

size_t stream_len(Ctx *ctx, uint32_t id) {
        GByteArray *b = g_hash_table_lookup(ctx->bufs, GUINT_TO_POINTER(id));
        return b ? b->len : 0;
}

char *cid(Ctx *ctx, const char *name) {
        return g_strdup_printf("%s-%s", ctx->prefix, name);
}

JsonObject *make_process(const char *const *args, bool tty) {
        JsonObject *p = json_object_new();
        JsonArray *a = json_array_new(), *env = json_array_new();
        JsonObject *user = json_object_new();

        for (; *args; args++)
                json_array_add_string_element(a, *args);
        json_array_add_string_element(env, "PATH=/bin:/sbin:/usr/bin");
        json_array_add_string_element(env, "TERM=xterm");
        json_object_set_array_member(p, "args", a);
        json_object_set_array_member(p, "env", env);
        json_object_set_string_member(p, "cwd", "/");
        json_object_set_boolean_member(p, "terminal", tty);
        json_object_set_int_member(user, "uid", 0);
        json_object_set_int_member(user, "gid", 0);
        json_object_set_object_member(p, "user", user);
        return p;
}

JsonObject *make_spec(const char *const *args, bool tty) {
        static const char *const spec_text =
                "{\"ociVersion\":\"1.0.2\","
                "\"root\":{\"path\":\"/host/path/is/replaced\",\"readonly\":false},"
                "\"hostname\":\"guest-test\","
                "\"hooks\":{\"prestart\":[{\"path\":\"/should/be/dropped\"}]},"
                "\"mounts\":["
                "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
                "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
                "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
                "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
                "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"]},"
                "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
                "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
                "{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"/etc/hosts\","
                "\"options\":[\"rbind\",\"ro\"]}],"
                "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"ipc\"},"
                "{\"type\":\"uts\"},{\"type\":\"network\",\"path\":\"/proc/1/ns/net\"}],"
                "\"devices\":[{\"path\":\"/dev/host-only\",\"type\":\"c\",\"major\":1,\"minor\":3}],"
                "\"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\"]}}";
        JsonObject *spec = NULL;
        JsonObject *caps = json_object_new();
        const char *const capset[] = {"CAP_CHOWN",  "CAP_KILL",         "CAP_SETUID",
                                      "CAP_SETGID", "CAP_DAC_OVERRIDE", NULL};
        JsonObject *process;

        g_assert(kc_json_parse_object(spec_text, strlen(spec_text), &spec) == 0);
        process = make_process(args, tty);
        for (const char *k = "bounding"; k; k = strcmp(k, "bounding") == 0    ? "effective"
                                                : strcmp(k, "effective") == 0 ? "permitted"
                                                                              : NULL) {
                JsonArray *a = json_array_new();
                for (const char *const *c = capset; *c; c++)
                        json_array_add_string_element(a, *c);
                json_object_set_array_member(caps, k, a);
        }
        json_object_set_object_member(process, "capabilities", caps);
        json_object_set_object_member(spec, "process", process);
        return spec;
}

int prepare_rootfs(Ctx *ctx, const char *id) {
        g_autofree char *dir = g_build_filename(ctx->shared_dir, id, NULL);
        g_autofree char *rootfs = g_build_filename(dir, "rootfs", NULL);
        const char *argv[] = {"cp", "-a", ctx->template, rootfs, NULL};
        int status = -1;

        if (g_mkdir_with_parents(dir, 0755) < 0)
                return -errno;
        if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                          NULL) ||
            status != 0)
                return -EIO;
        return 0;
}

int call(Ctx *ctx, JsonObject *req, JsonObject **ret) {
        return kc_agent_client_call(ctx->client, req, TIMEOUT_MS, ret);
}

int create(Ctx *ctx, const char *id, const char *const *args, bool tty, bool with_stdin, Streams *ret) {
        g_autoptr(JsonObject) req = NULL, spec = make_spec(args, tty);
        Streams s = {};
        int r;

        r = prepare_rootfs(ctx, id);
        if (r < 0)
                return r;
        if (with_stdin)
                s.in = kc_agent_client_stream_alloc(ctx->client, true);
        s.out = kc_agent_client_stream_alloc(ctx->client, false);
        if (!tty)
                s.err = kc_agent_client_stream_alloc(ctx->client, false);
        r = kc_request_create_container(id, spec, tty, s.in, s.out, s.err, &req);
        if (r == 0)
                r = call(ctx, req, NULL);
        if (r == 0 && ret)
                *ret = s;
        return r;
}

int simple(Ctx *ctx, const char *type, const char *id, const char *exec_id) {
        g_autoptr(JsonObject) req = NULL;
        int r;

        if (strcmp(type, "remove-container") == 0)
                r = kc_request_remove_container(id, true, &req);
        else
                r = kc_request_for_process(type, id, exec_id, &req);
        return r < 0 ? r : call(ctx, req, NULL);
}

/* Waits for the process; returns the exit code, or 128+signal, or -errno. */
int wait_for(Ctx *ctx, const char *id, const char *exec_id, KcExitStatus *ret_st) {
        g_autoptr(JsonObject) req = kc_request_new("wait");
        g_autoptr(JsonObject) reply = NULL;
        KcExitStatus st;
        int r;

        json_object_set_string_member(req, "container-id", id);
        if (exec_id)
                json_object_set_string_member(req, "exec-id", exec_id);
        r = call(ctx, req, &reply);
        if (r < 0)
                return r;
        r = kc_exit_status_parse(reply, false, &st);
        if (r < 0)
                return r;
        if (ret_st)
                *ret_st = st;
        return kc_exit_status_code(&st);
}

int run_simple(Ctx *ctx, const char *name, const char *const *args, Streams *s, KcExitStatus *st) {
        g_autofree char *id = cid(ctx, name);
        int r;

        r = create(ctx, id, args, false, false, s);
        if (r < 0)
                return r;
        r = simple(ctx, "start-container", id, NULL);
        if (r < 0)
                return r;
        r = wait_for(ctx, id, NULL, st);
        (void) simple(ctx, "remove-container", id, NULL);
        return r;
}

int exec_in(Ctx *ctx, const char *id, const char *eid, const char *const *args, bool tty, Streams *ret) {
        g_autoptr(JsonObject) req = NULL, process = make_process(args, tty);
        Streams s = {};
        int r;

        s.out = kc_agent_client_stream_alloc(ctx->client, false);
        if (!tty)
                s.err = kc_agent_client_stream_alloc(ctx->client, false);
        *ret = s;
        r = kc_request_exec(id, eid, process, tty, 0, s.out, s.err, &req);
        return r < 0 ? r : call(ctx, req, NULL);
}

int exec_output(Ctx *ctx, const char *id, const char *eid, const char *const *args, char **ret_out) {
        Streams s = {};
        int r = exec_in(ctx, id, eid, args, false, &s);

        if (r == 0)
                r = wait_for(ctx, id, eid, NULL);
        *ret_out = stream_text(ctx, s.out);
        return r;
}

/* Runs the client until a stream holds `needle` or the timeout passes. */
bool wait_output(Ctx *ctx, uint32_t stream, const char *needle, int timeout_ms) {
        int64_t deadline = g_get_monotonic_time() + (int64_t) timeout_ms * 1000;

        for (;;) {
                g_autofree char *text = stream_text(ctx, stream);
                if (strstr(text, needle))
                        return true;
                if (g_get_monotonic_time() > deadline)
                        return false;
                if (kc_agent_client_iterate(ctx->client, 100) < 0 &&
                    kc_agent_client_get_error(ctx->client) < 0)
                        return false;
        }
}

int connect_unix(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || strlen(path) >= sizeof sa.sun_path)
                return -EINVAL;
        strcpy(sa.sun_path, path);
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                safe_close(fd);
                return -errno;
        }
        return fd;
}

int create_start_limited(Ctx *ctx, const char *id, const char *const *args, int64_t memory_limit) {
        g_autoptr(JsonObject) req = kc_request_new("create-container");
        JsonObject *spec = make_spec(args, false);
        JsonObject *lnx = json_object_get_object_member(spec, "linux");
        JsonObject *res = json_object_new(), *mem = json_object_new();
        int r;

        json_object_set_int_member(mem, "limit", memory_limit);
        json_object_set_object_member(res, "memory", mem);
        json_object_set_object_member(lnx, "resources", res);
        r = prepare_rootfs(ctx, id);
        json_object_set_string_member(req, "container-id", id);
        json_object_set_object_member(req, "spec", spec);
        json_object_set_int_member(req, "stdout", kc_agent_client_stream_alloc(ctx->client, false));
        json_object_set_int_member(req, "stderr", kc_agent_client_stream_alloc(ctx->client, false));
        if (r == 0)
                r = call(ctx, req, NULL);
        if (r == 0)
                r = simple(ctx, "start-container", id, NULL);
        return r;
}
