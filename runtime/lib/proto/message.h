/* Host <-> agent JSON messages: bounded parsing, strict field access, builders for frames. */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

#define KC_JSON_MAX_DEPTH 32
#define KC_JSON_MAX_MEMBERS 4096
#define KC_ID_MAX 128
#define KC_STRING_MAX 4096

/* [A-Za-z0-9_.-]{1,128}, not "." or "..". */
bool kc_id_is_valid(const char *id);

/* Checks nesting depth of raw JSON text without building a tree (json-glib recurses, so deep
 * input must be refused before it is parsed). Returns 0, -E2BIG for too deep, -EBADMSG for
 * unbalanced brackets or a NUL byte. */
int kc_json_check_depth(const char *text, size_t len, unsigned max_depth);

/* Parses a payload whose top level must be an object: checks depth, UTF-8, member counts.
 * Returns 0 and a new reference in *ret, or -EBADMSG / -E2BIG. */
int kc_json_parse_object(const void *payload, size_t len, JsonObject **ret);

/* Serialises obj and appends it as one frame. -EMSGSIZE when it does not fit. */
int kc_json_append_frame(GByteArray *out, int kind, uint32_t id, JsonObject *obj);

/* Strict getters. A missing member gives -ENOENT when required, else 0 with the default left in
 * *ret; a member of the wrong type or out of range gives -EINVAL. */
int kc_json_get_string(JsonObject *obj, const char *name, size_t max_len, bool required, const char **ret);
int kc_json_get_id(JsonObject *obj, const char *name, bool required, const char **ret);
int kc_json_get_int(JsonObject *obj, const char *name, int64_t min, int64_t max, bool required,
                    int64_t *ret);
int kc_json_get_bool(JsonObject *obj, const char *name, bool required, bool *ret);
int kc_json_get_object(JsonObject *obj, const char *name, bool required, JsonObject **ret);
int kc_json_get_array(JsonObject *obj, const char *name, size_t max_len, bool required, JsonArray **ret);

/* Messages. */
JsonObject *kc_request_new(const char *type);
JsonObject *kc_reply_new_ok(void);
JsonObject *kc_reply_new_error(int error, const char *format, ...) G_GNUC_PRINTF(2, 3);
JsonObject *kc_event_new(const char *type);

/* Reads a reply: 0 for {"ok":true}, the negative errno of an error reply (message in
 * *ret_message, may be NULL), or -EBADMSG when the reply itself is malformed. */
int kc_reply_parse(JsonObject *reply, const char **ret_message);

typedef struct KcHello {
        int64_t protocol;
        const char *agent_version; /* borrowed from the object */
        const char *kernel;
} KcHello;

int kc_event_parse_hello(JsonObject *ev, KcHello *ret);

typedef struct KcExitStatus {
        const char *container_id;
        const char *exec_id; /* NULL for the container's init */
        int64_t pid;
        int exit_code; /* -1 when killed by a signal */
        int signal;    /* 0 when exited normally */
        bool core_dumped;
} KcExitStatus;

/* Parses an exit event or a wait reply (ids are optional in a wait reply). */
int kc_exit_status_parse(JsonObject *obj, bool need_ids, KcExitStatus *ret);
/* Fills status members from a waitpid() status. */
void kc_exit_status_to_json(JsonObject *obj, int wstatus);
/* Converts an exit status to a conmon-style code: exit code or 128 + signal. */
int kc_exit_status_code(const KcExitStatus *st);
