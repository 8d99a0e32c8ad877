/* Whole-file helpers: atomic replace (temp + rename), small reads, directories. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Writes data to path atomically: a temp file "<path>.XXXXXX" in the same directory,
 * fsync'd when do_fsync, then renamed over path. Mode is applied to the new file. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, bool do_fsync);
/* Reads a whole small file (at most max bytes, else -EFBIG) into a NUL-terminated buffer. */
int read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len);
/* mkdir -p with mode for created components. */
int mkdir_p(const char *path, mode_t mode);
/* rm -rf that does not cross mount points; refuses "/" and "". */
int rm_rf(const char *path);
