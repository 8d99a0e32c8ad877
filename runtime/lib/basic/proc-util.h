/* Facts about host processes read from /proc. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* The start time of pid (field 22 of /proc/<pid>/stat, in clock ticks since boot): together with
 * the pid it names one process for its whole life, as CRI-O's liveness check does. A zombie or a
 * missing process is -ESRCH; unparsable contents are -EBADMSG. */
int proc_start_time(pid_t pid, uint64_t *ret);
