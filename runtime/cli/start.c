/* `kata-runtime start <id>`: start-container through the sandbox's mux, then status running. */
#include <errno.h>
#include <getopt.h>

#include "kata-runtime.h"
#include "log.h"
#include "mux.h"

int kr_cmd_start(KrContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_close_ int lock_fd = -EBADF;
        g_autoptr(KrState) s = NULL;
        g_autoptr(JsonObject) req = NULL;
        g_autofree char *message = NULL;
        const char *reason;
        KrStatus status;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("Usage: kata-runtime start <container-id>\n");
                        return 0;
                default:
                        return log_error_errno(EINVAL, "start: unknown option");
                }
        r = kr_need_args(argc, argv, optind, 1, 1, "start <container-id>");
        if (r < 0)
                return r;

        r = kr_container_open(ctx, argv[optind], true, &lock_fd, &s);
        if (r < 0)
                return r;

        status = kr_state_effective_status(s);
        if (kr_status_check(status, KR_VERB_START, &reason) < 0)
                return log_error_errno(EBUSY, "%s (container %s)", reason, s->id);

        req = kc_request_new("start-container");
        json_object_set_string_member(req, "container-id", s->id);
        r = kr_mux_call_once(s, req, NULL, &message);
        if (r == -ENOENT && message)
                /* The agent no longer knows it: the guest process is gone. */
                return log_error_errno(r, "container %s: %s: container not running", s->id, message);
        if (r < 0 && message)
                return log_error_errno(r, "Failed to start container %s: %s", s->id, message);
        if (r == -ENOENT || r == -ECONNREFUSED)
                return log_error_errno(r, "Failed to start container %s: sandbox %s is not running: %m",
                                       s->id, s->sandbox_id);
        if (r < 0)
                return log_error_errno(r, "Failed to start container %s: %m", s->id);

        s->status = KR_STATUS_RUNNING;
        r = kr_state_save(ctx->root, s);
        if (r < 0)
                return log_error_errno(r, "Failed to record container %s as running: %m", s->id);
        log_debug("container %s started", s->id);
        return 0;
}
