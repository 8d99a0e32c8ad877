/* Messages to the caller on _OCI_SYNCPIPE / _OCI_ATTACHPIPE: conmon's one-line JSON. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Returns s (len bytes) JSON-escaped the way conmon 2.1.6 does it on the wire: \\ \" \n \r \t
 * \b \f, other control bytes as \u00XX, bytes >= 0x80 raw, '/' left alone (observed; the same
 * value for any JSON decoder). Returns a newly allocated string. */
char *kc_json_escape(const char *s, size_t len);
/* Formats `{"<key>": <value>}\n` or `{"<key>": <value>, "message": "<escaped>"}\n`. */
char *kc_sync_format(const char *key, int value, const char *message);
/* The key conmon uses: "data" with --api-version, else "exit_code" in exec mode, else "pid". */
const char *kc_sync_key(bool api_version, bool exec);
/* Parses an _OCI_*PIPE environment variable. Returns the fd (made CLOEXEC), -ENOENT if unset,
 * -EINVAL if malformed. */
int kc_sync_fd_from_env(const char *name);
/* Writes one message with a single write(); EPIPE and other errors close the fd (*fd = -1). */
int kc_sync_send(int *fd, const char *key, int value, const char *message);
