/* What delete needs to leave nothing behind: mounts below a directory, processes by verified pid. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Pure: the mount points in mountinfo text that are dir or below it, deepest first (unescaped). */
GPtrArray *kr_mountinfo_below(const char *mountinfo, const char *dir);

/* Detaches every mount at or below dir (several passes, for stacked mounts). Returns the number
 * of mounts detached, or -errno when one could not be. */
int kr_umount_below(const char *dir);

/* Unmounts what is below dir, then removes it. Missing dir is fine. */
int kr_remove_tree(const char *dir);

/* Whether /proc/<pid>/comm is name. */
bool kr_pid_comm_is(pid_t pid, const char *name);

/* Whether one of /proc/<pid>/cmdline's arguments is arg. */
bool kr_pid_cmdline_has(pid_t pid, const char *arg);

/* Polls until pid is gone (dead, zombie, or a different process than start_time when non-zero).
 * Returns 0, or -ETIMEDOUT. */
int kr_pid_wait_gone(pid_t pid, uint64_t start_time, int timeout_ms);

/* A decimal pid from a pid file; -ENOENT, -EINVAL. */
int kr_read_pid_file(const char *path, pid_t *ret);
