/* The --exit-command run after the container exited (podman's `container cleanup`). */
#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include "exit-command.h"
#include "log.h"
#include "oom.h"

pid_t kc_exit_command_spawn(const KcOptions *o, int old_oom_score_adj) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        pid_t pid;

        g_ptr_array_add(argv, o->exit_command);
        for (char **a = o->exit_command_args; a && *a; a++)
                g_ptr_array_add(argv, *a);
        g_ptr_array_add(argv, NULL);

        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork the exit command: %m");
        if (pid == 0) {
                sigset_t all;
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                signal(SIGPIPE, SIG_DFL);
                if (o->exit_delay > 0)
                        sleep((unsigned) o->exit_delay);
                if (old_oom_score_adj != INT_MIN)
                        (void) kc_oom_score_adj_set(old_oom_score_adj, NULL);
                execv(o->exit_command, (char **) argv->pdata);
                _exit(127);
        }
        return pid;
}
