/* kata-runtime: global options and the verbs the dispatch table in main.c calls. */
#pragma once

#include <stdbool.h>

#include "cli-log.h"
#include "kc-state.h"

typedef struct KrContext {
        const char *root;
        bool systemd_cgroup;
        bool debug;
        const char *log_path;
        KrLogFormat log_format;
} KrContext;

/* A verb gets its own argv (argv[0] = verb name). It returns the exit code (>= 0), or a negative
 * errno after logging why, which main turns into exit code 1. */
typedef int (*KrVerbFunc)(KrContext *ctx, int argc, char **argv);

int kr_cmd_start(KrContext *ctx, int argc, char **argv);
int kr_cmd_state(KrContext *ctx, int argc, char **argv);
int kr_cmd_kill(KrContext *ctx, int argc, char **argv);
int kr_cmd_delete(KrContext *ctx, int argc, char **argv);
int kr_cmd_exec(KrContext *ctx, int argc, char **argv);
int kr_cmd_update(KrContext *ctx, int argc, char **argv);
int kr_cmd_pause(KrContext *ctx, int argc, char **argv);
int kr_cmd_resume(KrContext *ctx, int argc, char **argv);
int kr_cmd_ps(KrContext *ctx, int argc, char **argv);
int kr_cmd_list(KrContext *ctx, int argc, char **argv);
int kr_cmd_features(KrContext *ctx, int argc, char **argv);
int kr_cmd_check(KrContext *ctx, int argc, char **argv);
int kr_cmd_env(KrContext *ctx, int argc, char **argv);

/* Shared by the verbs (container.c). */

/* Locks and loads container id; a missing one is logged with the phrases CRI-O maps to
 * "not found". */
int kr_container_open(KrContext *ctx, const char *id, bool exclusive, int *ret_lock_fd, KrState **ret);
/* Logs an error for a missing container and returns -ENOENT. */
int kr_log_not_found(const char *id);
/* Parses a verb's options with getopt_long ("+" stops at the first operand); prints help. */
int kr_need_args(int argc, char **argv, int optind_, int min, int max, const char *usage);
/* Prints JSON (pretty or not) to stdout, newline-terminated. */
int kr_print_json(JsonObject *o, bool pretty);

/* env.c: the effective configuration document (also used by check). */
int kr_env_build(KrContext *ctx, JsonObject **ret);
