/* A container's state under the runtime root: R/<id>/state.json, its lock, liveness, OCI state JSON. */
#pragma once

#include "proc-util.h"

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define KR_DEFAULT_ROOT "/run/kata-conmon"
#define KR_OCI_VERSION "1.1.0"
#define KR_STATE_MAX (1024 * 1024)

typedef enum KrStatus {
        KR_STATUS_CREATED,
        KR_STATUS_RUNNING,
        KR_STATUS_PAUSED,
        KR_STATUS_STOPPED,
        _KR_STATUS_MAX,
        _KR_STATUS_INVALID = -EINVAL,
} KrStatus;

const char *kr_status_to_string(KrStatus s);
KrStatus kr_status_from_string(const char *s);

typedef enum KrRole {
        KR_ROLE_SANDBOX,
        KR_ROLE_CONTAINER,
} KrRole;

typedef struct KrState {
        char *id;
        KrRole role;
        char *sandbox_id; /* the sandbox's own id for the sandbox role */
        char *bundle;
        pid_t pid;         /* 0 while unknown */
        pid_t monitor_pid; /* 0 while unknown */
        uint64_t pid_start_time;
        KrStatus status;
        char *created; /* RFC 3339, may be NULL */
        bool has_exit_status;
        int exit_status;
        char *sandbox_dir;
        JsonObject *annotations; /* never NULL */
        JsonObject *raw;         /* everything read, so that unknown members survive a rewrite */
} KrState;

void kr_state_free(KrState *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KrState, kr_state_free)

/* Pure parsing and serialisation of state.json. -EBADMSG for malformed input. */
int kr_state_parse(const char *text, size_t len, KrState **ret);
char *kr_state_serialize(KrState *s);

/* "<root>/<id>" after checking id; -EINVAL for a bad id. */
int kr_state_dir(const char *root, const char *id, char **ret);

/* Takes the container's lock (flock on R/<id>/lock), then reads its state. -ENOENT when the
 * container does not exist (also when it was deleted while we waited for the lock). The lock is
 * held until *ret_lock_fd is closed; readers take it shared. */
int kr_state_lock(const char *root, const char *id, bool exclusive, int *ret_lock_fd);
int kr_state_load(const char *root, const char *id, KrState **ret);
/* Writes state.json atomically; the caller holds the lock. */
int kr_state_save(const char *root, KrState *s);

/* Field 22 of /proc/<pid>/stat. -ESRCH for a missing, zombie or dead process. */
/* Whether the recorded pid still is the recorded process. */
bool kr_state_pid_alive(const KrState *s);
/* The status to report: a recorded live status whose process is gone becomes stopped. */
KrStatus kr_state_effective_status(const KrState *s);

/* The OCI state object: ociVersion, id, status, pid, bundle, created, annotations. */
JsonObject *kr_oci_state_build(const KrState *s, KrStatus status);

/* The transitions the verbs make: 0 when verb may act on a container in status from, else
 * -EBUSY (wrong state) with the reason in *ret_reason. */
typedef enum KrVerb {
        KR_VERB_START,
        KR_VERB_PAUSE,
        KR_VERB_RESUME,
        KR_VERB_KILL,
        KR_VERB_EXEC,
        KR_VERB_DELETE,
        KR_VERB_UPDATE,
} KrVerb;
int kr_status_check(KrStatus from, KrVerb verb, const char **ret_reason);
