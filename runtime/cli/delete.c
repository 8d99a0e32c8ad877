/* `kata-runtime delete [--force] <id>`: removes the guest container, its mounts, its state, and for
 * a sandbox the VM, its processes, sockets and directories. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>

#include "cleanup.h"
#include "fileio.h"
#include "kata-runtime.h"
#include "log.h"
#include "mux.h"

#define STOP_TIMEOUT_MS 10000
#define MONITOR_TIMEOUT_MS 15000

/* Asks the agent to forget the container (SIGKILLing it first when force). Unreachable sandbox
 * or unknown container: nothing left to do in the guest. */
static int remove_in_guest(const KrState *s, bool force) {
        g_autoptr(JsonObject) req = kc_request_new("remove-container");
        g_autofree char *message = NULL;
        int r;

        json_object_set_string_member(req, "container-id", s->id);
        json_object_set_boolean_member(req, "force", force);
        r = kr_mux_call_once(s, req, NULL, &message);
        if (r == -ENOENT || r == -ECONNREFUSED || r == -ECONNRESET || r == -EPIPE)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to remove container %s in sandbox %s: %s", s->id,
                                       s->sandbox_id, message ? message : strerror(-r));
        return 0;
}

/* No start time is recorded for the monitor: it is ours only while it is a kata-conmon whose
 * command line names this container. */
static bool monitor_alive(const KrState *s) {
        return s->monitor_pid > 0 && proc_start_time(s->monitor_pid, &(uint64_t){0}) == 0 &&
               kr_pid_comm_is(s->monitor_pid, "kata-conmon") && kr_pid_cmdline_has(s->monitor_pid, s->id);
}

static void wait_monitor(const KrState *s, int timeout_ms) {
        int64_t deadline = g_get_monotonic_time() + (int64_t) timeout_ms * 1000;

        while (monitor_alive(s) && g_get_monotonic_time() < deadline)
                g_usleep(20 * 1000);
}

static void kill_monitor(const KrState *s) {
        if (monitor_alive(s)) {
                log_warning("container %s: monitor %d did not exit, killing it", s->id,
                            (int) s->monitor_pid);
                (void) kill(s->monitor_pid, SIGKILL);
                wait_monitor(s, 2000);
        }
}

/* Phase 1, under the lock: ask the guest side to stop. Returns whether someone (the monitor) will
 * tear things down, i.e. whether waiting is worth it. */
static bool stop_in_guest(const KrState *s, bool alive) {
        g_autoptr(JsonObject) req = NULL;
        int r;

        if (s->role == KR_ROLE_CONTAINER)
                return remove_in_guest(s, alive) >= 0 && alive;
        if (!alive)
                return false;
        /* Killing the sandbox's workload makes its monitor power the VM off and clean up. */
        req = kc_request_new("signal");
        json_object_set_string_member(req, "container-id", s->id);
        json_object_set_int_member(req, "signal", SIGKILL);
        json_object_set_boolean_member(req, "all", true);
        r = kr_mux_call_once(s, req, NULL, NULL);
        if (r < 0)
                log_debug_errno(r, "sandbox %s: signal through the mux failed: %m", s->id);
        return r >= 0;
}

/* Phase 2, without the lock (the monitor takes it to record the exit): wait for the process and
 * the monitor to go, then kill whatever is left. */
static void wait_and_kill(const KrState *s, bool wait) {
        g_autofree char *sdir = kr_sandbox_dir(s);
        g_autofree char *vpath = g_build_filename(sdir, "virtiofsd.pid", NULL);
        pid_t vpid;

        if (kr_pid_wait_gone(s->pid, s->pid_start_time, wait ? STOP_TIMEOUT_MS : 0) == 0)
                /* The monitor writes the exit files after the process's exit; let it finish. */
                wait_monitor(s, MONITOR_TIMEOUT_MS);
        else if (s->role == KR_ROLE_CONTAINER)
                log_warning("container %s: stand-in %d still alive, killing it", s->id, (int) s->pid);
        if (kr_state_pid_alive(s)) {
                (void) kill(s->pid, SIGKILL);
                (void) kr_pid_wait_gone(s->pid, s->pid_start_time, 2000);
                wait_monitor(s, wait ? MONITOR_TIMEOUT_MS : 2000);
        }
        kill_monitor(s);

        /* No start time is recorded for virtiofsd: its name must match. */
        if (s->role == KR_ROLE_SANDBOX && kr_read_pid_file(vpath, &vpid) >= 0 &&
            (kr_pid_comm_is(vpid, "virtiofsd") || kr_pid_comm_is(vpid, "virtiofsd-bin"))) {
                (void) kill(vpid, SIGKILL);
                (void) kr_pid_wait_gone(vpid, 0, 2000);
        }
}

/* Phase 3, under the lock again: mounts and directories. */
static int remove_dirs(KrContext *ctx, const KrState *s) {
        g_autofree char *sdir = kr_sandbox_dir(s), *dir = NULL, *tree = NULL, *base = NULL;
        int r;

        /* Only ever a directory named after the pod: a damaged state.json must not aim rm -rf elsewhere. */
        base = g_path_get_basename(sdir);
        if (!g_path_is_absolute(sdir) || strcmp(base, s->sandbox_id) != 0)
                return log_error_errno(EINVAL,
                                       "container %s: sandbox dir %s is not named after sandbox %s, "
                                       "not removing it",
                                       s->id, sdir, s->sandbox_id);
        tree = s->role == KR_ROLE_SANDBOX ? g_strdup(sdir) : g_build_filename(sdir, "shared", s->id, NULL);
        r = kr_remove_tree(tree);
        if (r < 0)
                return log_error_errno(r, "Failed to remove %s: %m", tree);
        (void) kr_state_dir(ctx->root, s->id, &dir);
        r = kr_remove_tree(dir);
        if (r < 0)
                return log_error_errno(r, "Failed to remove %s: %m", dir);
        return 0;
}

/* No state: remove debris a failed create may have left (runc does the same). */
static int delete_missing(KrContext *ctx, const char *id, bool force) {
        g_autofree char *dir = NULL;
        int r;

        if (kr_state_dir(ctx->root, id, &dir) < 0)
                return kr_log_not_found(id);
        r = kr_remove_tree(dir);
        if (r < 0)
                log_warning_errno(r, "Failed to remove %s: %m", dir);
        if (force)
                return 0;
        return kr_log_not_found(id);
}

int kr_cmd_delete(KrContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"force", no_argument, NULL, 'f'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_close_ int lock_fd = -EBADF;
        g_autoptr(KrState) s = NULL;
        bool force = false, wait;
        const char *reason;
        KrStatus status;
        int c, r;

        while ((c = getopt_long(argc, argv, "fh", options, NULL)) >= 0)
                switch (c) {
                case 'f':
                        force = true;
                        break;
                case 'h':
                        printf("Usage: kata-runtime delete [--force] <container-id>\n");
                        return 0;
                default:
                        return log_error_errno(EINVAL, "delete: unknown option");
                }
        r = kr_need_args(argc, argv, optind, 1, 1, "delete [--force] <container-id>");
        if (r < 0)
                return r;

        r = kr_state_lock(ctx->root, argv[optind], true, &lock_fd);
        if (r == -ENOENT || r == -EINVAL)
                return r == -EINVAL ? kr_log_not_found(argv[optind])
                                    : delete_missing(ctx, argv[optind], force);
        if (r < 0)
                return log_error_errno(r, "Failed to lock container %s: %m", argv[optind]);
        r = kr_state_load(ctx->root, argv[optind], &s);
        if (r == -ENOENT || (r == -EBADMSG && force)) {
                if (r == -EBADMSG)
                        log_warning("container %s: corrupt state, removing it", argv[optind]);
                return delete_missing(ctx, argv[optind], force);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read state of container %s: %m", argv[optind]);

        status = kr_state_effective_status(s);
        /* A created container is not running yet: deleting it kills it, as runc does. */
        if (!force && kr_status_check(status, KR_VERB_DELETE, &reason) < 0)
                return log_error_errno(EBUSY, "%s (container %s; use --force)", reason, s->id);

        wait = stop_in_guest(s, status != KR_STATUS_STOPPED);
        lock_fd = safe_close(lock_fd);
        wait_and_kill(s, wait);

        r = kr_state_lock(ctx->root, s->id, true, &lock_fd);
        if (r == -ENOENT)
                return 0; /* a concurrent delete finished the job */
        if (r < 0)
                return log_error_errno(r, "Failed to lock container %s: %m", s->id);
        r = remove_dirs(ctx, s);
        if (r < 0)
                return r;
        log_debug("container %s deleted", s->id);
        return 0;
}
