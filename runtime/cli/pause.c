/* `kata-runtime pause|resume <id>`: freezes and thaws the container's cgroup in the guest
 * (pause-container/resume-container: the runtime's freezer there), the OCI "paused" state. */
#include <errno.h>
#include <getopt.h>

#include "kata-runtime.h"
#include "log.h"
#include "mux.h"
#include "requests.h"

static int pause_resume(KrContext *ctx, int argc, char **argv, bool pause) {
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_close_ int lock_fd = -EBADF;
        g_autoptr(KrState) s = NULL;
        g_autoptr(JsonObject) req = NULL;
        g_autofree char *message = NULL;
        const char *reason, *verb = pause ? "pause" : "resume";
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("Usage: kata-runtime %s <container-id>\n", verb);
                        return 0;
                default:
                        return log_error_errno(EINVAL, "%s: unknown option", verb);
                }
        r = kr_need_args(argc, argv, optind, 1, 1, pause ? "pause <container-id>" : "resume <container-id>");
        if (r < 0)
                return r;

        r = kr_container_open(ctx, argv[optind], true, &lock_fd, &s);
        if (r < 0)
                return r;
        if (kr_status_check(kr_state_effective_status(s), pause ? KR_VERB_PAUSE : KR_VERB_RESUME, &reason) <
            0)
                return log_error_errno(EBUSY, "%s: %s (container %s)", verb, reason, s->id);

        r = kc_request_for_process(pause ? "pause-container" : "resume-container", s->id, NULL, &req);
        if (r < 0)
                return log_error_errno(r, "%s: invalid container id %s", verb, s->id);
        r = kr_mux_call_once(s, req, NULL, &message);
        if (r == -ENOSYS)
                return log_error_errno(r, "%s: the agent of sandbox %s has no cgroup freezer requests", verb,
                                       s->sandbox_id);
        if (r < 0 && message)
                return log_error_errno(r, "Failed to %s container %s: %s", verb, s->id, message);
        if (r < 0)
                return log_error_errno(r, "Failed to %s container %s: sandbox %s unreachable: %m", verb,
                                       s->id, s->sandbox_id);

        s->status = pause ? KR_STATUS_PAUSED : KR_STATUS_RUNNING;
        r = kr_state_save(ctx->root, s);
        if (r < 0)
                return log_error_errno(r, "Failed to record container %s as %s: %m", s->id,
                                       kr_status_to_string(s->status));
        return 0;
}

int kr_cmd_pause(KrContext *ctx, int argc, char **argv) {
        return pause_resume(ctx, argc, argv, true);
}

int kr_cmd_resume(KrContext *ctx, int argc, char **argv) {
        return pause_resume(ctx, argc, argv, false);
}
