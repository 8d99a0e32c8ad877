/* `kata-runtime kill [-a] <id> [signal]`: a signal request for the guest process through the mux. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>

#include "kata-runtime.h"
#include "log.h"
#include "mux.h"
#include "signals.h"

/* The sandbox's agent is unreachable (its monitor died or is tearing down): signal the host
 * process we recorded, after checking it still is that process. For a sandbox that is QEMU,
 * whose death ends the pod; for a container, the stand-in. */
static int kill_host_pid(const KrState *s, int sig) {
        if (!kr_state_pid_alive(s))
                return -ESRCH;
        if (s->role == KR_ROLE_SANDBOX && sig != SIGKILL && sig != SIGTERM && sig != SIGINT)
                return -ENOTCONN;
        if (kill(s->pid, s->role == KR_ROLE_SANDBOX ? SIGKILL : sig) < 0)
                return negative_errno();
        return 0;
}

int kr_cmd_kill(KrContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"all", no_argument, NULL, 'a'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_close_ int lock_fd = -EBADF;
        g_autoptr(KrState) s = NULL;
        g_autoptr(JsonObject) req = NULL;
        g_autofree char *message = NULL;
        const char *sigarg = "SIGTERM";
        bool all = false;
        int c, r, sig;

        while ((c = getopt_long(argc, argv, "ah", options, NULL)) >= 0)
                switch (c) {
                case 'a':
                        all = true;
                        break;
                case 'h':
                        printf("Usage: kata-runtime kill [--all|-a] <container-id> [signal]\n");
                        return 0;
                default:
                        return log_error_errno(EINVAL, "kill: unknown option");
                }
        r = kr_need_args(argc, argv, optind, 1, 2, "kill [--all] <container-id> [signal]");
        if (r < 0)
                return r;
        if (argc - optind == 2)
                sigarg = argv[optind + 1];
        if (kr_signal_parse(sigarg, &sig) < 0)
                return log_error_errno(EINVAL, "invalid signal \"%s\"", sigarg);

        r = kr_container_open(ctx, argv[optind], false, &lock_fd, &s);
        if (r < 0)
                return r;
        if (kr_state_effective_status(s) == KR_STATUS_STOPPED)
                return log_error_errno(ESRCH, "container %s: container not running", s->id);

        req = kc_request_new("signal");
        json_object_set_string_member(req, "container-id", s->id);
        json_object_set_int_member(req, "signal", sig);
        json_object_set_boolean_member(req, "all", all);
        r = kr_mux_call_once(s, req, NULL, &message);
        if (r == -ENOENT || r == -ESRCH) {
                if (message)
                        return log_error_errno(r, "container %s: %s: no such process", s->id, message);
        } else if (r < 0 && message)
                return log_error_errno(r, "Failed to signal container %s: %s", s->id, message);
        if (r == -ENOENT || r == -ECONNREFUSED || r == -ECONNRESET || r == -EPIPE) {
                log_debug_errno(r, "sandbox %s unreachable (%m), signalling pid %d", s->sandbox_id,
                                (int) s->pid);
                r = kill_host_pid(s, sig);
                if (r == -ESRCH)
                        return log_error_errno(r, "container %s: container not running", s->id);
                if (r == -ENOTCONN)
                        return log_error_errno(r, "Failed to signal container %s: sandbox %s is unreachable",
                                               s->id, s->sandbox_id);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to signal container %s: %m", s->id);
        log_debug("container %s: sent signal %d%s", s->id, sig, all ? " to all processes" : "");
        return 0;
}
