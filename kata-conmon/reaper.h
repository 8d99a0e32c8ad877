/* Child reaping and signal delivery through one signalfd in the main loop. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "engine.h"

typedef void (*KcChildCallback)(pid_t pid, int wait_status, void *userdata);
typedef void (*KcSignalCallback)(int sig, void *userdata);

/* Blocks SIGCHLD, SIGTERM, SIGINT, SIGQUIT and SIGUSR1 and watches them with a signalfd.
 * The previous mask is kept for kc_reaper_restore_sigmask() in forked children. */
int kc_reaper_new(KcSignalCallback on_signal, void *userdata, KcReaper **ret);
/* Calls cb once pid was reaped; if it was reaped before, the call is scheduled at once. */
void kc_reaper_watch(KcReaper *r, pid_t pid, KcChildCallback cb, void *userdata);
void kc_reaper_unwatch(KcReaper *r, pid_t pid);
/* Once the pids of interest are watched: forget and stop remembering other children. */
void kc_reaper_stop_caching(KcReaper *r);
/* Reaps everything that has exited now (also called on SIGCHLD). */
void kc_reaper_poll(KcReaper *r);
/* In a forked child: restore the original signal mask and default dispositions. */
void kc_reaper_child_reset(const KcReaper *r);
void kc_reaper_free(KcReaper *r);
/* Decodes a wait status like conmon: exit code, or 128 + signal number. */
int kc_wait_status_decode(int wait_status);
