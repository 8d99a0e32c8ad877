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
                return log_error_errno(r, "Failed to remove container %s in sandbox %s: %s", s->id, s->sandbox_id,
                                       message ? message : strerror(-r));
        return 0;
}

/* No start time is recorded for the monitor: it is ours only while it is a kata-conmon whose
 * command line names this container. */
static bool monitor_alive(const KrState *s) {
        return s->monitor_pid > 0 && kr_process_start_time(s->monitor_pid, &(uint64_t) { 0 }) == 0 &&
               kr_pid_comm_is(s->monitor_pid, "kata-conmon") && kr_pid_cmdline_has(s->monitor_pid, s->id);
}

static void wait_monitor(const KrState *s, int timeout_ms) {
        int64_t deadline = g_get_monotonic_time() + (int64_t) timeout_ms * 1000;

        while (monitor_alive(s) && g_get_monotonic_time() < deadline)
                g_usleep(20 * 1000);
}

static void kill_monitor(const KrState *s) {
        if (monitor_alive(s)) {
                log_warning("container %s: monitor %d did not exit, killing it", s->id, (int) s->monitor_pid);
                (void) kill(s->monitor_pid, SIGKILL);
                wait_monitor(s, 2000);
        }
}

static int delete_container(const KrState *s, bool alive) {
        g_autofree char *sdir = kr_sandbox_dir(s), *cdir = g_build_filename(sdir, "shared", s->id, NULL);
        int r;

        r = remove_in_guest(s, alive);
        if (r < 0)
                return r;
        if (alive && kr_state_pid_alive(s)) {
                /* remove-container killed the guest process; its stand-in follows. */
                if (kr_pid_wait_gone(s->pid, s->pid_start_time, STOP_TIMEOUT_MS) < 0) {
                        log_warning("container %s: stand-in %d still alive, killing it", s->id, (int) s->pid);
                        (void) kill(s->pid, SIGKILL);
                        (void) kr_pid_wait_gone(s->pid, s->pid_start_time, 2000);
                }
        }
        /* The monitor writes the exit files after the stand-in's exit; let it finish. */
        wait_monitor(s, MONITOR_TIMEOUT_MS);
        kill_monitor(s);

        r = kr_remove_tree(cdir);
        if (r < 0)
                return log_error_errno(r, "Failed to remove %s: %m", cdir);
        return 0;
}

static void kill_sandbox_processes(const KrState *s, const char *sdir) {
        g_autofree char *vpath = g_build_filename(sdir, "virtiofsd.pid", NULL);
        pid_t vpid;

        kill_monitor(s);
        if (kr_state_pid_alive(s)) {
                (void) kill(s->pid, SIGKILL);
                (void) kr_pid_wait_gone(s->pid, s->pid_start_time, 2000);
        }
        /* No start time is recorded for virtiofsd: its name must match. */
        if (kr_read_pid_file(vpath, &vpid) >= 0 &&
            (kr_pid_comm_is(vpid, "virtiofsd") || kr_pid_comm_is(vpid, "virtiofsd-bin"))) {
                (void) kill(vpid, SIGKILL);
                (void) kr_pid_wait_gone(vpid, 0, 2000);
        }
}

static int delete_sandbox(const KrState *s, bool alive) {
        g_autofree char *sdir = kr_sandbox_dir(s);
        int r;

        if (alive) {
                /* Killing the workload makes the monitor power the VM off and clean up. */
                g_autoptr(JsonObject) req = kc_request_new("signal");
                json_object_set_string_member(req, "container-id", s->id);
                json_object_set_int_member(req, "signal", SIGKILL);
                json_object_set_boolean_member(req, "all", true);
                r = kr_mux_call_once(s, req, NULL, NULL);
                if (r < 0) {
                        /* Nobody will tear the VM down for us: don't wait for it. */
                        log_debug_errno(r, "sandbox %s: signal through the mux failed: %m", s->id);
                        alive = false;
                }
        }
        /* Give the monitor its clean shutdown, then kill whatever is left (QEMU, virtiofsd). */
        if (kr_pid_wait_gone(s->pid, s->pid_start_time, alive ? MONITOR_TIMEOUT_MS : 0) == 0)
                wait_monitor(s, MONITOR_TIMEOUT_MS);
        kill_sandbox_processes(s, sdir);

        r = kr_remove_tree(sdir);
        if (r < 0)
                return log_error_errno(r, "Failed to remove sandbox directory %s: %m", sdir);
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
                { "force", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_close_ int lock_fd = -EBADF;
        g_autoptr(KrState) s = NULL;
        g_autofree char *dir = NULL;
        bool force = false;
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
                return r == -EINVAL ? kr_log_not_found(argv[optind]) : delete_missing(ctx, argv[optind], force);
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

        if (s->role == KR_ROLE_SANDBOX)
                r = delete_sandbox(s, status != KR_STATUS_STOPPED);
        else
                r = delete_container(s, status != KR_STATUS_STOPPED);
        if (r < 0)
                return r;

        (void) kr_state_dir(ctx->root, s->id, &dir);
        r = kr_remove_tree(dir);
        if (r < 0)
                return log_error_errno(r, "Failed to remove %s: %m", dir);
        log_debug("container %s deleted", s->id);
        return 0;
}
