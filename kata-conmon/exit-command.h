/* The --exit-command run after the container exited (podman's `container cleanup`). */
#pragma once

#include <sys/types.h>

#include "options.h"

/* Forks the exit command (after --exit-delay seconds in the child) with our oom_score_adj
 * restored to old_oom_score_adj. Returns the child's pid or -errno. */
pid_t kc_exit_command_spawn(const KcOptions *o, int old_oom_score_adj);
