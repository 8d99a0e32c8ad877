/* kc-agent-driver helpers: the fake host's state, OCI spec builders, request shortcuts. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "client.h"

#define TIMEOUT_MS 60000

typedef struct Ctx {
        KcAgentClient *client;
        GHashTable *bufs; /* stream id -> GByteArray */
        GHashTable *eofs; /* stream id set */
        GPtrArray *exit_events;
        GPtrArray *oom_events; /* container ids */
        GPtrArray *events;     /* "oom:<id>", "exit:<id>:<exec id>" in arrival order */
        uint32_t held_stream;  /* not credited back while set */
        const char *shared_dir;
        const char *template;
        const char *prefix;
        int tests;
        int failed;
} Ctx;

typedef struct Streams {
        uint32_t in, out, err;
} Streams;

void on_data(KcAgentClient *c, uint32_t stream, const uint8_t *buf, size_t len, void *userdata);
void on_event(KcAgentClient *c, const char *type, JsonObject *ev, void *userdata);
void ok(Ctx *ctx, bool pass, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
char *stream_text(Ctx *ctx, uint32_t id);
size_t stream_len(Ctx *ctx, uint32_t id);
char *cid(Ctx *ctx, const char *name);
JsonObject *make_process(const char *const *args, bool tty);
JsonObject *make_spec(const char *const *args, bool tty);
int prepare_rootfs(Ctx *ctx, const char *id);
int call(Ctx *ctx, JsonObject *req, JsonObject **ret);
int create(Ctx *ctx, const char *id, const char *const *args, bool tty, bool with_stdin, Streams *ret);
int simple(Ctx *ctx, const char *type, const char *id, const char *exec_id);
/* Creates and starts a container (stdout/stderr streams, no stdin) under a memory limit. */
int create_start_limited(Ctx *ctx, const char *id, const char *const *args, int64_t memory_limit);
int wait_for(Ctx *ctx, const char *id, const char *exec_id, KcExitStatus *ret_st);
int run_simple(Ctx *ctx, const char *name, const char *const *args, Streams *s, KcExitStatus *st);
int exec_in(Ctx *ctx, const char *id, const char *eid, const char *const *args, bool tty, Streams *ret);
/* exec_in() without a tty, then wait_for(); its stdout in *ret_out. Returns the exit code or < 0. */
int exec_output(Ctx *ctx, const char *id, const char *eid, const char *const *args, char **ret_out);
bool wait_output(Ctx *ctx, uint32_t stream, const char *needle, int timeout_ms);
int connect_unix(const char *path);

/* driver-control.c */
void test_control(Ctx *ctx, bool cgroup2);
void test_oom_exit(Ctx *ctx);
