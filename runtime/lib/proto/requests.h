/* Typed builders for every request and parsers for typed replies/events of docs/protocol.md. */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "message.h"

/* Builders return 0 and a new object in *ret, or -EINVAL for an invalid id, stream id, signal or
 * size (nothing invalid is ever sent). spec/process are copied. */
int kc_request_create_sandbox(const char *hostname, const char *const *dns, const char *shared_fs_type,
                              const char *shared_fs_tag, JsonObject **ret);
int kc_request_create_container(const char *container_id, JsonObject *spec, bool tty, uint32_t stdin_stream,
                                uint32_t stdout_stream, uint32_t stderr_stream, JsonObject **ret);
int kc_request_exec(const char *container_id, const char *exec_id, JsonObject *process, bool tty,
                    uint32_t stdin_stream, uint32_t stdout_stream, uint32_t stderr_stream, JsonObject **ret);
/* start-container, wait, close-stdin, state, stats, pause-container, resume-container (exec_id NULL:
 * the container's init; start, stats, pause and resume take no exec_id). */
int kc_request_for_process(const char *type, const char *container_id, const char *exec_id,
                           JsonObject **ret);
int kc_request_signal(const char *container_id, const char *exec_id, int signal, bool all, JsonObject **ret);
int kc_request_resize(const char *container_id, const char *exec_id, unsigned rows, unsigned cols,
                      JsonObject **ret);
int kc_request_remove_container(const char *container_id, bool force, JsonObject **ret);
/* update-container: resources (OCI LinuxResources) are validated and reduced to the guest's subset
 * (kc_resources_filter()); -EINVAL with the reason in *ret_error (may be NULL). */
int kc_request_update_container(const char *container_id, JsonObject *resources, JsonObject **ret,
                                char **ret_error);

/* Reply parsers: -EBADMSG when a field is missing, mistyped or out of range. */
int kc_reply_get_pid(JsonObject *reply, int64_t *ret_pid);

typedef enum KcProcessStatus {
        KC_STATUS_CREATED,
        KC_STATUS_RUNNING,
        KC_STATUS_STOPPED,
} KcProcessStatus;

int kc_reply_get_state(JsonObject *reply, KcProcessStatus *ret_status, int64_t *ret_pid);

typedef struct KcStats {
        int64_t memory_usage, memory_limit, memory_max_usage;
        int64_t cpu_usage_usec, cpu_user_usec, cpu_system_usec;
        int64_t pids;
} KcStats;

int kc_reply_get_stats(JsonObject *reply, KcStats *ret);
/* oom event: the container id (borrowed from the event). */
int kc_event_get_oom(JsonObject *event, const char **ret_container_id);
