/* Test driver for kata-agent: runs the guest scenarios through the host-side client, prints TAP. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "driver.h"
#include "fd-util.h"
#include "log.h"

static bool has_exit_event(Ctx *ctx, const char *id, const char *exec_id, int code) {
        for (guint i = 0; i < ctx->exit_events->len; i++) {
                KcExitStatus st;
                if (kc_exit_status_parse(ctx->exit_events->pdata[i], true, &st) == 0 &&
                    strcmp(st.container_id, id) == 0 && g_strcmp0(st.exec_id, exec_id) == 0)
                        return kc_exit_status_code(&st) == code;
        }
        return false;
}

static void test_outputs(Ctx *ctx) {
        const char *args[] = {"/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2", NULL};
        g_autofree char *id = cid(ctx, "out");
        g_autofree char *out = NULL, *err = NULL;
        Streams s = {};
        int r;

        r = run_simple(ctx, "out", args, &s, NULL);
        out = stream_text(ctx, s.out);
        err = stream_text(ctx, s.err);
        ok(ctx, r == 0, "container exits 0 (got %d)", r);
        ok(ctx, strcmp(out, "to-stdout\n") == 0, "stdout on the stdout stream (got '%s')", out);
        ok(ctx, strcmp(err, "to-stderr\n") == 0, "stderr on the stderr stream (got '%s')", err);
        ok(ctx,
           g_hash_table_contains(ctx->eofs, GUINT_TO_POINTER(s.out)) &&
                   g_hash_table_contains(ctx->eofs, GUINT_TO_POINTER(s.err)),
           "both output streams ended before the exit status");
        ok(ctx, has_exit_event(ctx, id, NULL, 0), "exit event with code 0");
}

/* In the VM under TCG the agent runs crun without address space randomisation (see runtime.c):
 * the container's own process must still have the default personality and randomisation on. */
static void test_personality(Ctx *ctx) {
        const char *args[] = {"/bin/sh", "-c",
                              "cat /proc/self/personality /proc/sys/kernel/randomize_va_space", NULL};
        g_autofree char *out = NULL;
        Streams s = {};
        int r;

        r = run_simple(ctx, "persona", args, &s, NULL);
        out = stream_text(ctx, s.out);
        ok(ctx, r == 0 && strcmp(out, "00000000\n2\n") == 0,
           "the container process runs with personality 0 and full randomisation (got %d, '%s')", r, out);
}

/* Creates, starts and waits for a container with this spec (taken); its stdout in *ret_out. */
static int run_spec(Ctx *ctx, const char *id, JsonObject *spec, char **ret_out) {
        g_autoptr(JsonObject) req = kc_request_new("create-container");
        uint32_t out = kc_agent_client_stream_alloc(ctx->client, false);
        int r = prepare_rootfs(ctx, id);

        json_object_set_string_member(req, "container-id", id);
        json_object_set_object_member(req, "spec", spec);
        json_object_set_int_member(req, "stdout", out);
        if (r == 0)
                r = call(ctx, req, NULL);
        if (r == 0)
                r = simple(ctx, "start-container", id, NULL);
        if (r == 0)
                r = wait_for(ctx, id, NULL, NULL);
        *ret_out = stream_text(ctx, out);
        return r;
}

/* create-sandbox asked for 4096 KiB of read-ahead on the shared directory: its mount's backing
 * device shows it (read through a container with sysfs mounted). */
static void test_read_ahead(Ctx *ctx) {
        const char *args[] = {"/bin/sh", "-c",
                              "cat /sys/class/bdi/*/read_ahead_kb; for i in 1 2 3 4 5 6 7 8 9 10; do "
                              "[ -d /sys/module/overlay ] && [ -d /sys/module/virtio_rng ] && break; "
                              "sleep 0.5; done; ls -d /sys/module/overlay /sys/module/virtio_rng",
                              NULL};
        g_autofree char *id = cid(ctx, "readahead"), *out = NULL;
        JsonObject *spec = make_spec(args, false), *m = json_object_new();
        JsonArray *mounts = json_array_new(), *opts = json_array_new();
        int r;

        json_array_add_string_element(opts, "ro");
        json_object_set_string_member(m, "destination", "/sys");
        json_object_set_string_member(m, "type", "sysfs");
        json_object_set_string_member(m, "source", "sysfs");
        json_object_set_array_member(m, "options", opts);
        json_array_add_object_element(mounts, m);
        json_object_set_array_member(spec, "mounts", mounts);
        r = run_spec(ctx, id, spec, &out);
        ok(ctx, r == 0 && strstr(out, "4096\n"), "the shared directory's read-ahead is 4096 KiB (%d, '%s')",
           r, out);
        /* The "late" module group loads from 2 s after create-sandbox, one module per idle turn. */
        ok(ctx, strstr(out, "/sys/module/overlay\n") && strstr(out, "/sys/module/virtio_rng\n"),
           "the late modules (overlay, virtio_rng) are loaded a while after create-sandbox ('%s')", out);
        (void) simple(ctx, "remove-container", id, NULL);
}

/* The spec's seccomp filter and capability sets reach the process (crun/runc apply them). */
static void test_security(Ctx *ctx) {
        static const char *const seccomp =
                "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
                "\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],"
                "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}";
        const char *args[] = {"/bin/sh", "-c",
                              "mkdir /tmp/d 2>/dev/null; echo mkdir=$?; grep CapBnd /proc/self/status",
                              NULL};
        g_autofree char *id = cid(ctx, "security"), *out = NULL;
        JsonObject *spec = make_spec(args, false), *filter = NULL;
        int r;

        g_assert(kc_json_parse_object(seccomp, strlen(seccomp), &filter) == 0);
        json_object_set_object_member(json_object_get_object_member(spec, "linux"), "seccomp", filter);
        r = run_spec(ctx, id, spec, &out);
        /* CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_KILL, CAP_SETGID, CAP_SETUID: bits 0, 1, 5, 6, 7. */
        ok(ctx, r == 0 && strstr(out, "mkdir=1\n") && strstr(out, "CapBnd:\t00000000000000e3"),
           "seccomp denies mkdir and the bounding set is the spec's (%d, '%s')", r, out);
        (void) simple(ctx, "remove-container", id, NULL);
}

static void test_exit_codes(Ctx *ctx) {
        static const int codes[] = {1, 42};

        for (size_t i = 0; i < G_N_ELEMENTS(codes); i++) {
                g_autofree char *script = g_strdup_printf("exit %d", codes[i]);
                g_autofree char *name = g_strdup_printf("exit%d", codes[i]);
                const char *args[] = {"/bin/sh", "-c", script, NULL};
                KcExitStatus st = {};
                int r = run_simple(ctx, name, args, NULL, &st);
                ok(ctx, r == codes[i] && st.signal == 0, "exit code %d is exact (got %d)", codes[i], r);
        }
}

static void test_signal(Ctx *ctx) {
        const char *args[] = {"/bin/sleep", "1000", NULL};
        g_autofree char *id = cid(ctx, "sig");
        g_autoptr(JsonObject) req = kc_request_new("signal");
        KcExitStatus st = {};
        int r;

        r = create(ctx, id, args, false, false, NULL);
        if (r == 0)
                r = simple(ctx, "start-container", id, NULL);
        json_object_set_string_member(req, "container-id", id);
        json_object_set_int_member(req, "signal", SIGKILL);
        if (r == 0)
                r = call(ctx, req, NULL);
        if (r == 0)
                r = wait_for(ctx, id, NULL, &st);
        ok(ctx, r == 128 + SIGKILL && st.signal == SIGKILL && st.exit_code == -1,
           "death by SIGKILL reported as signal 9 (got %d, signal %d)", r, st.signal);
        (void) simple(ctx, "remove-container", id, NULL);
}

static void test_exec(Ctx *ctx) {
        const char *args[] = {"/bin/sleep", "1000", NULL};
        const char *e1[] = {"/bin/sh", "-c", "echo exec-out; echo exec-err >&2; exit 3", NULL};
        const char *e2[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
        const char *e3[] = {"/bin/sh", "-c", "cat /proc/1/cmdline", NULL};
        const char *e4[] = {"/bin/cat", "/proc/self/personality", NULL};
        g_autofree char *id = cid(ctx, "exec");
        g_autofree char *out = NULL, *err = NULL, *cmdline = NULL, *persona = NULL;
        Streams s1 = {}, s2 = {};
        KcExitStatus st = {};
        int r;

        r = create(ctx, id, args, false, false, NULL);
        if (r == 0)
                r = simple(ctx, "start-container", id, NULL);
        ok(ctx, r == 0, "long-running container started (%d)", r);
        r = exec_in(ctx, id, "e1", e1, false, &s1);
        if (r == 0)
                r = wait_for(ctx, id, "e1", NULL);
        out = stream_text(ctx, s1.out);
        err = stream_text(ctx, s1.err);
        ok(ctx, r == 3, "exec exit code 3 (got %d)", r);
        ok(ctx, strcmp(out, "exec-out\n") == 0 && strcmp(err, "exec-err\n") == 0,
           "exec stdout/stderr on their streams (got '%s' / '%s')", out, err);
        r = exec_in(ctx, id, "e2", e2, false, &s2);
        if (r == 0)
                r = wait_for(ctx, id, "e2", &st);
        ok(ctx, r == 128 + SIGTERM && st.signal == SIGTERM,
           "exec killed by SIGTERM reported as signal 15 (got %d)", r);
        r = exec_output(ctx, id, "e3", e3, &cmdline);
        ok(ctx, r == 0 && g_str_has_prefix(cmdline, "/bin/sleep"),
           "exec runs inside the container's namespaces");
        r = exec_output(ctx, id, "e4", e4, &persona);
        ok(ctx, r == 0 && strcmp(persona, "00000000\n") == 0,
           "the exec'd process has the default personality, randomisation on (%d, '%s')", r, persona);
        {
                g_autoptr(JsonObject) rm = kc_request_new("remove-container");
                json_object_set_string_member(rm, "container-id", id);
                r = call(ctx, rm, NULL);
                ok(ctx, r == -EBUSY, "a running container is not removed without force (%d)", r);
        }
        r = simple(ctx, "remove-container", id, NULL);
        ok(ctx, r == 0, "running container removed with force (%d)", r);
        {
                /* Created, never started: removable without force, and gone afterwards. */
                g_autofree char *created = cid(ctx, "created");
                g_autoptr(JsonObject) rm = kc_request_new("remove-container");
                g_autoptr(JsonObject) st = kc_request_new("state");

                r = create(ctx, created, args, false, false, NULL);
                json_object_set_string_member(rm, "container-id", created);
                if (r == 0)
                        r = call(ctx, rm, NULL);
                json_object_set_string_member(st, "container-id", created);
                ok(ctx, r == 0 && call(ctx, st, NULL) == -ENOENT, "a created container is removed (%d)", r);
        }
}

static void test_tty(Ctx *ctx) {
        const char *args[] = {"/bin/sh", "-c", "echo ready; read line; stty size; exit 7", NULL};
        g_autofree char *id = cid(ctx, "tty");
        g_autoptr(JsonObject) resize = kc_request_new("resize");
        g_autofree char *out = NULL;
        Streams s = {};
        int r;

        r = create(ctx, id, args, true, true, &s);
        if (r == 0)
                r = simple(ctx, "start-container", id, NULL);
        ok(ctx, r == 0 && wait_output(ctx, s.out, "ready", 20000), "tty container started and printed");
        json_object_set_string_member(resize, "container-id", id);
        json_object_set_int_member(resize, "rows", 33);
        json_object_set_int_member(resize, "cols", 111);
        r = call(ctx, resize, NULL);
        ok(ctx, r == 0, "resize accepted (%d)", r);
        (void) kc_agent_client_write(ctx->client, s.in, "go\n", 3);
        r = wait_for(ctx, id, NULL, NULL);
        out = stream_text(ctx, s.out);
        ok(ctx, strstr(out, "33 111") != NULL, "stty size sees 33 111 (output '%s')", out);
        ok(ctx, r == 7, "tty container exit code 7 (got %d)", r);
        (void) simple(ctx, "remove-container", id, NULL);
}

static void test_stdin_eof(Ctx *ctx) {
        const char *args[] = {"/bin/sh", "-c", "cat; echo eof-seen", NULL};
        g_autofree char *id = cid(ctx, "stdin");
        g_autofree char *out = NULL;
        Streams s = {};
        int r;

        r = create(ctx, id, args, false, true, &s);
        if (r == 0)
                r = simple(ctx, "start-container", id, NULL);
        if (r == 0 && kc_agent_client_write(ctx->client, s.in, "line one\n", 9) != 9)
                r = -EIO;
        if (r == 0)
                r = simple(ctx, "close-stdin", id, NULL);
        if (r == 0)
                r = wait_for(ctx, id, NULL, NULL);
        out = stream_text(ctx, s.out);
        ok(ctx, r == 0 && strcmp(out, "line one\neof-seen\n") == 0,
           "stdin bytes then EOF reach the process (%d, '%s')", r, out);
        (void) simple(ctx, "remove-container", id, NULL);
}

static void test_two_containers(Ctx *ctx) {
        const char *a_args[] = {"/bin/sh", "-c", "for i in 1 2 3; do echo a$i; sleep 0.1; done", NULL};
        /* Much more output than one credit window: flow control must keep both moving. */
        const char *b_args[] = {"/bin/sh", "-c", "dd if=/dev/zero bs=1024 count=2048 2>/dev/null", NULL};
        g_autofree char *a = cid(ctx, "two-a"), *b = cid(ctx, "two-b"), *out = NULL;
        Streams sa = {}, sb = {};
        int ra, rb, r;

        r = create(ctx, a, a_args, false, false, &sa);
        if (r == 0)
                r = create(ctx, b, b_args, false, false, &sb);
        if (r == 0)
                r = simple(ctx, "start-container", a, NULL);
        if (r == 0)
                r = simple(ctx, "start-container", b, NULL);
        ok(ctx, r == 0, "two containers created and started (%d)", r);
        ra = wait_for(ctx, a, NULL, NULL);
        rb = wait_for(ctx, b, NULL, NULL);
        out = stream_text(ctx, sa.out);
        ok(ctx, ra == 0 && strcmp(out, "a1\na2\na3\n") == 0, "first container's output intact ('%s')", out);
        ok(ctx, rb == 0 && stream_len(ctx, sb.out) == 2048 * 1024,
           "second container's 2 MiB arrived whole (%zu bytes)", stream_len(ctx, sb.out));
        (void) simple(ctx, "remove-container", a, NULL);
        (void) simple(ctx, "remove-container", b, NULL);
}

/* One stream whose consumer stops reading must not hold up another container or a request. */
static void test_slow_consumer(Ctx *ctx) {
        const char *big_args[] = {"/bin/sh", "-c",
                                  "dd if=/dev/zero bs=1024 count=1024 2>/dev/null; echo big-done >&2", NULL};
        const char *small_args[] = {"/bin/sh", "-c", "echo small-done", NULL};
        g_autofree char *big = cid(ctx, "slow-big"), *small = cid(ctx, "slow-small"), *out = NULL,
                        *err = NULL;
        g_autoptr(JsonObject) ping = kc_request_new("ping");
        g_autoptr(JsonObject) state = kc_request_new("state");
        g_autoptr(JsonObject) st = NULL;
        const char *status = "";
        Streams sb = {}, ss = {};
        int64_t until;
        size_t held;
        int r, rs;

        r = create(ctx, big, big_args, false, false, &sb);
        ctx->held_stream = sb.out;
        if (r == 0)
                r = simple(ctx, "start-container", big, NULL);
        /* Let the big writer fill its whole credit window and block. */
        until = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
        while (r == 0 && stream_len(ctx, sb.out) < KC_WINDOW_INITIAL && g_get_monotonic_time() < until)
                (void) kc_agent_client_iterate(ctx->client, 50);
        held = stream_len(ctx, sb.out);
        ok(ctx, r == 0 && held == KC_WINDOW_INITIAL,
           "a stalled consumer receives exactly one window (%zu bytes)", held);
        rs = run_simple(ctx, "slow-small", small_args, &ss, NULL);
        out = stream_text(ctx, ss.out);
        ok(ctx, rs == 0 && strcmp(out, "small-done\n") == 0,
           "another container runs to completion meanwhile ('%s')", out);
        ok(ctx, call(ctx, ping, NULL) == 0, "control requests still answered");
        json_object_set_string_member(state, "container-id", big);
        r = call(ctx, state, &st);
        if (r == 0)
                (void) kc_json_get_string(st, "status", 16, true, &status);
        ok(ctx, r == 0 && strcmp(status, "running") == 0 && stream_len(ctx, sb.out) == held,
           "the stalled writer is blocked, not dropped (%s, %zu bytes)", status, stream_len(ctx, sb.out));
        /* Resume: credit back what was held; the rest flows and the writer finishes. */
        ctx->held_stream = 0;
        (void) kc_agent_client_consumed(ctx->client, sb.out, held);
        r = wait_for(ctx, big, NULL, NULL);
        err = stream_text(ctx, sb.err);
        ok(ctx, r == 0 && stream_len(ctx, sb.out) == 1024 * 1024 && strcmp(err, "big-done\n") == 0,
           "after credit returns every byte arrives (%d, %zu bytes)", r, stream_len(ctx, sb.out));
        (void) simple(ctx, "remove-container", big, NULL);
}

/* A writer that exits with bytes still in its pipe while the host holds back credit loses nothing,
 * even after the agent's 2 s drain limit for output of exited processes. */
static void test_exit_with_held_output(Ctx *ctx) {
        const char *args[] = {"/bin/sh", "-c", "head -c 294912 /dev/zero", NULL};
        g_autofree char *id = cid(ctx, "held");
        int64_t until;
        Streams s = {};
        size_t held;
        int r;

        r = create(ctx, id, args, false, false, &s);
        ctx->held_stream = s.out;
        if (r == 0)
                r = simple(ctx, "start-container", id, NULL);
        until = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
        while (r == 0 && g_get_monotonic_time() < until)
                (void) kc_agent_client_iterate(ctx->client, 100);
        held = stream_len(ctx, s.out);
        ctx->held_stream = 0;
        (void) kc_agent_client_consumed(ctx->client, s.out, held);
        if (r == 0)
                r = wait_for(ctx, id, NULL, NULL);
        ok(ctx, r == 0 && held == KC_WINDOW_INITIAL && stream_len(ctx, s.out) == 294912,
           "output held back past the drain limit still arrives whole (%d, %zu then %zu bytes)", r, held,
           stream_len(ctx, s.out));
        (void) simple(ctx, "remove-container", id, NULL);
}

static void test_errors(Ctx *ctx) {
        g_autoptr(JsonObject) unknown = kc_request_new("no-such-request");
        g_autoptr(JsonObject) bad_id = kc_request_new("start-container");
        g_autoptr(JsonObject) bad_type = kc_request_new("signal");
        g_autofree char *id = cid(ctx, "missing");

        ok(ctx, call(ctx, unknown, NULL) == -ENOSYS, "unknown request type gives ENOSYS");
        json_object_set_string_member(bad_id, "container-id", "../etc");
        ok(ctx, call(ctx, bad_id, NULL) == -EINVAL, "invalid container id gives EINVAL");
        json_object_set_string_member(bad_type, "container-id", id);
        json_object_set_string_member(bad_type, "signal", "9");
        ok(ctx, call(ctx, bad_type, NULL) == -ENOENT, "unknown container gives ENOENT");
        ok(ctx, wait_for(ctx, id, NULL, NULL) == -ENOENT, "wait on an unknown container gives ENOENT");
}

static void test_stats(Ctx *ctx) {
        const char *args[] = {"/bin/sleep", "1000", NULL};
        g_autofree char *id = cid(ctx, "stats");
        g_autoptr(JsonObject) req = kc_request_new("stats");
        g_autoptr(JsonObject) reply = NULL;
        int64_t mem = 0, pids = 0;
        int r;

        r = create(ctx, id, args, false, false, NULL);
        if (r == 0)
                r = simple(ctx, "start-container", id, NULL);
        json_object_set_string_member(req, "container-id", id);
        if (r == 0)
                r = call(ctx, req, &reply);
        if (r == 0 && (kc_json_get_int(reply, "memory-usage", 1, G_MAXINT64, true, &mem) < 0 ||
                       kc_json_get_int(reply, "pids", 1, G_MAXINT64, true, &pids) < 0))
                r = -EBADMSG;
        ok(ctx, r == 0,
           "stats from the guest cgroup (%d: memory %" G_GINT64_FORMAT " bytes, %" G_GINT64_FORMAT " pids)",
           r, mem, pids);
        (void) simple(ctx, "remove-container", id, NULL);
}

static bool has_oom(Ctx *ctx, const char *id) {
        for (guint i = 0; i < ctx->oom_events->len; i++)
                if (strcmp(ctx->oom_events->pdata[i], id) == 0)
                        return true;
        return false;
}

/* A 16 MiB container filling a tmpfs: the guest kernel OOM-kills it and the agent says so. */
static void test_oom(Ctx *ctx) {
        const char *args[] = {"/bin/sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=60; sleep 1000",
                              NULL};
        g_autofree char *id = cid(ctx, "oom");
        int64_t deadline;
        int r;

        r = create_start_limited(ctx, id, args, 16 * 1024 * 1024);
        deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
        while (r == 0 && !has_oom(ctx, id) && g_get_monotonic_time() < deadline)
                (void) kc_agent_client_iterate(ctx->client, 200);
        ok(ctx, r == 0 && has_oom(ctx, id), "OOM kill in the guest reported as an oom event (%d)", r);
        (void) simple(ctx, "remove-container", id, NULL);
}

int main(int argc, char **argv) {
        g_autofree char *agent = NULL, *runtime = NULL, *work = NULL, *socket_path = NULL, *template = NULL,
                        *prefix = NULL;
        gboolean stats = false, quick = false;
        g_autofree char *expect_fs = NULL;
        int channel_fd = -1;
        GOptionEntry entries[] = {
                {"agent", 0, 0, G_OPTION_ARG_FILENAME, &agent, "host mode: kata-agent binary", "PATH"},
                {"runtime", 0, 0, G_OPTION_ARG_FILENAME, &runtime, "host mode: OCI runtime", "PATH"},
                {"work", 0, 0, G_OPTION_ARG_FILENAME, &work, "work directory (shared dir, state)", "DIR"},
                {"connect", 0, 0, G_OPTION_ARG_FILENAME, &socket_path, "VM mode: the agent socket", "PATH"},
                {"fd", 0, 0, G_OPTION_ARG_INT, &channel_fd, "VM mode: an inherited agent channel fd", "N"},
                {"template", 0, 0, G_OPTION_ARG_FILENAME, &template, "busybox rootfs to copy", "DIR"},
                {"prefix", 0, 0, G_OPTION_ARG_STRING, &prefix, "container id prefix", "STR"},
                {"stats", 0, 0, G_OPTION_ARG_NONE, &stats, "also check stats (cgroup2 guest)", NULL},
                {"quick", 0, 0, G_OPTION_ARG_NONE, &quick, "only outputs and exit codes", NULL},
                {"expect-fs", 0, 0, G_OPTION_ARG_STRING, &expect_fs, "shared-fs the agent must report",
                 "TYPE"},
                {},
        };
        g_autoptr(GOptionContext) octx = g_option_context_new("- kata-agent scenarios (TAP)");
        g_autoptr(GError) error = NULL;
        KcAgentClientOps ops = {.event = on_event, .data = on_data};
        g_autofree char *shared = NULL;
        Ctx ctx = {};
        pid_t agent_pid = -1;
        bool vm = false;
        int fd, r;

        g_option_context_add_main_entries(octx, entries, NULL);
        if (!g_option_context_parse(octx, &argc, &argv, &error) || !work || !template ||
            (!socket_path && channel_fd < 0 && (!agent || !runtime))) {
                printf("1..1\nnot ok 1 - usage: %s\n",
                       error ? error->message
                             : "--work, --template and --agent/--runtime or --connect needed");
                return 1;
        }
        kc_log_set_ident("kc-agent-driver");
        shared = g_build_filename(work, "shared", NULL);
        ctx.shared_dir = shared;
        ctx.template = template;
        ctx.prefix = prefix ?: "kc";
        ctx.bufs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                         (GDestroyNotify) g_byte_array_unref);
        ctx.eofs = g_hash_table_new(g_direct_hash, g_direct_equal);
        ctx.exit_events = g_ptr_array_new_with_free_func((GDestroyNotify) json_object_unref);
        ctx.oom_events = g_ptr_array_new_with_free_func(g_free);
        ctx.events = g_ptr_array_new_with_free_func(g_free);
        g_mkdir_with_parents(shared, 0755);

        if (channel_fd >= 0) {
                fd = channel_fd;
                vm = true;
        } else if (socket_path) {
                vm = true;
                fd = connect_unix(socket_path);
                if (fd < 0) {
                        printf("1..1\nnot ok 1 - cannot connect to %s: %s\n", socket_path, g_strerror(-fd));
                        return 1;
                }
        } else {
                int sv[2];
                g_autofree char *state = g_build_filename(work, "state", NULL);
                g_autofree char *root = g_build_filename(work, "runtime-root", NULL);
                g_autofree char *fdarg = NULL;

                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                        return 1;
                fdarg = g_strdup_printf("%d", sv[1]);
                agent_pid = fork();
                if (agent_pid == 0) {
                        (void) fd_set_cloexec(sv[1], false);
                        execl(agent, agent, "--no-init", "--channel-fd", fdarg, "--runtime", runtime,
                              "--runtime-root", root, "--shared-dir", shared, "--state-dir", state,
                              "--log-level", "info", NULL);
                        _exit(127);
                }
                close(sv[1]);
                fd = sv[0];
        }
        ctx.client = kc_agent_client_new(fd, &ops, &ctx);

        r = kc_agent_client_wait_hello(ctx.client, TIMEOUT_MS);
        ok(&ctx, r == 0, "hello received (%s)", r < 0 ? g_strerror(-r) : "ok");
        if (r < 0) {
                printf("Bail out! no hello from the agent\n");
                return 1;
        }
        ok(&ctx, kc_agent_client_get_kernel(ctx.client)[0] != '\0', "hello: agent %s, kernel %s",
           kc_agent_client_get_agent_version(ctx.client), kc_agent_client_get_kernel(ctx.client));
        {
                g_autoptr(JsonObject) ping = kc_request_new("ping");
                ok(&ctx, call(&ctx, ping, NULL) == 0, "ping");
        }
        {
                g_autoptr(JsonObject) sb = kc_request_new("create-sandbox");
                JsonArray *dns = json_array_new();
                JsonObject *fs = json_object_new();
                json_array_add_string_element(dns, "nameserver 10.0.2.3");
                json_object_set_string_member(sb, "hostname", "kc-guest-test");
                json_object_set_array_member(sb, "dns", dns);
                g_autoptr(JsonObject) reply = NULL;
                const char *mounted = "?";

                json_object_set_string_member(fs, "type", vm ? "virtio-fs" : "none");
                json_object_set_string_member(fs, "tag", "kataShared");
                json_object_set_int_member(fs, "read-ahead-kb", 4096);
                json_object_set_object_member(sb, "shared-fs", fs);
                r = call(&ctx, sb, &reply);
                if (r == 0)
                        (void) kc_json_get_string(reply, "shared-fs", 16, true, &mounted);
                ok(&ctx, r == 0 && (!expect_fs || strcmp(mounted, expect_fs) == 0),
                   "create-sandbox (%d), shared directory mounted with %s", r, mounted);
        }
        test_outputs(&ctx);
        test_exit_codes(&ctx);
        if (quick)
                goto destroy;
        test_signal(&ctx);
        if (agent_pid <= 0) {
                test_personality(&ctx);
                test_read_ahead(&ctx);
        }
        test_security(&ctx);
        test_exec(&ctx);
        test_tty(&ctx);
        test_stdin_eof(&ctx);
        test_two_containers(&ctx);
        test_slow_consumer(&ctx);
        test_exit_with_held_output(&ctx);
        test_errors(&ctx);
        test_control(&ctx, stats);
        if (stats) {
                test_stats(&ctx);
                test_oom(&ctx);
                test_oom_exit(&ctx);
        }
destroy : {
        g_autoptr(JsonObject) d = kc_request_new("destroy-sandbox");
        r = call(&ctx, d, NULL);
        ok(&ctx, r == 0, "destroy-sandbox acknowledged (%d)", r);
}
        if (agent_pid > 0) {
                int status = 0;
                kc_agent_client_free(g_steal_pointer(&ctx.client));
                r = waitpid(agent_pid, &status, 0);
                ok(&ctx, r == agent_pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                   "host-mode agent exited 0");
        } else {
                /* The VM powers off: the channel closes. */
                while (kc_agent_client_iterate(ctx.client, 30000) == 0)
                        ;
                ok(&ctx, kc_agent_client_get_error(ctx.client) == -ECONNRESET,
                   "channel closed after destroy-sandbox");
                kc_agent_client_free(g_steal_pointer(&ctx.client));
        }
        printf("1..%d\n", ctx.tests);
        g_hash_table_destroy(ctx.bufs);
        g_hash_table_destroy(ctx.eofs);
        g_ptr_array_unref(ctx.exit_events);
        g_ptr_array_unref(ctx.oom_events);
        g_ptr_array_unref(ctx.events);
        return ctx.failed ? 1 : 0;
}
