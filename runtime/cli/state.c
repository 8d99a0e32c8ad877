/* `kata-runtime state <id>`: the OCI state JSON CRI-O decodes (status, pid, bundle, annotations). */
#include <errno.h>
#include <getopt.h>

#include "kata-runtime.h"
#include "log.h"

int kr_cmd_state(KrContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_close_ int lock_fd = -EBADF;
        g_autoptr(KrState) s = NULL;
        g_autoptr(JsonObject) o = NULL;
        KrStatus status;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("Usage: kata-runtime state <container-id>\n");
                        return 0;
                default:
                        return log_error_errno(EINVAL, "state: unknown option");
                }
        r = kr_need_args(argc, argv, optind, 1, 1, "state <container-id>");
        if (r < 0)
                return r;

        r = kr_container_open(ctx, argv[optind], false, &lock_fd, &s);
        if (r < 0)
                return r;

        status = kr_state_effective_status(s);
        if (status != s->status)
                log_debug("container %s: recorded %s, process %d gone: stopped", s->id,
                          kr_status_to_string(s->status), (int) s->pid);

        o = kr_oci_state_build(s, status);
        return kr_print_json(o, true);
}
