/* OOM: our own oom_score_adj, and watching the container's memory cgroup (v1 and v2). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct KcOomWatch KcOomWatch;
typedef void (*KcOomCallback)(void *userdata);

/* Sets /proc/self/oom_score_adj to value; *ret_old gets the previous value. */
int kc_oom_score_adj_set(int value, int *ret_old);
/* Starts watching the memory cgroup of pid. Returns -ENOENT when there is nothing to watch. */
int kc_oom_watch_new(pid_t pid, KcOomCallback cb, void *userdata, KcOomWatch **ret);
/* Watches one cgroup directory: v2 memory.events through inotify, v1 memory.oom_control through
 * an eventfd registered in cgroup.event_control. */
int kc_oom_watch_dir(const char *dir, bool v2, KcOomCallback cb, void *userdata, KcOomWatch **ret);
/* One last look (cgroup v2 counters) after the container exited. */
void kc_oom_watch_final_check(KcOomWatch *w);
void kc_oom_watch_free(KcOomWatch *w);
/* Parses memory.events text; returns 0 and the oom / oom_kill counters. Pure, for tests. */
int kc_oom_parse_events(const char *text, long long *ret_oom, long long *ret_oom_kill);
/* Finds the cgroup path for a controller ("memory", or "" for the v2 unified line) in the
 * text of /proc/<pid>/cgroup. Returns a new string or NULL. Pure, for tests. */
char *kc_oom_cgroup_path(const char *proc_cgroup, const char *controller);
