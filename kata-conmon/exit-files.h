/* Files the monitor leaves for its callers: exit status, oom markers, its own pidfile. */
#pragma once

#include <sys/types.h>

/* Writes <persist_dir>/exit, then <exit_dir>/<cid>, atomically, decimal, no newline. Either
 * directory may be NULL. Returns the first error (after trying both). */
int kc_exit_files_write(const char *persist_dir, const char *exit_dir, const char *cid, int status);
/* Creates empty "oom" files in each non-NULL directory. */
int kc_oom_files_write(const char *bundle, const char *persist_dir);
/* Writes pid to path atomically (conmon's -P). */
int kc_pidfile_write(const char *path, pid_t pid);
