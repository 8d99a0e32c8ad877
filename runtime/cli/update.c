/* `kata-runtime update --resources FILE|- <id>`: validates OCI LinuxResources and hands them to the
 * agent (update-container request) for the guest's cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "kata-runtime.h"
#include "log.h"
#include "mux.h"
#include "requests.h"

#define RESOURCES_MAX (1024 * 1024)

static int read_resources(const char *path, JsonObject **ret) {
        g_autofree char *buf = g_malloc(RESOURCES_MAX + 1);
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;
        int r;

        fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        n = read_full(fd, buf, RESOURCES_MAX + 1);
        if (n < 0)
                return log_error_errno((int) n, "Failed to read resources from %s: %m", path);
        if (n > RESOURCES_MAX)
                return log_error_errno(E2BIG, "update: resources larger than %d bytes", RESOURCES_MAX);
        r = kc_json_parse_object(buf, (size_t) n, ret);
        if (r < 0)
                return log_error_errno(EINVAL, "update: resources are not a JSON object");
        return 0;
}

int kr_cmd_update(KrContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"resources", required_argument, NULL, 'r'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_close_ int lock_fd = -EBADF;
        g_autoptr(KrState) s = NULL;
        g_autoptr(JsonObject) res = NULL, req = NULL;
        g_autofree char *message = NULL, *invalid = NULL;
        const char *path = NULL, *reason;
        int c, r;

        while ((c = getopt_long(argc, argv, "r:h", options, NULL)) >= 0)
                switch (c) {
                case 'r':
                        path = optarg;
                        break;
                case 'h':
                        printf("Usage: kata-runtime update --resources FILE|- <container-id>\n");
                        return 0;
                default:
                        return log_error_errno(EINVAL, "update: unknown option");
                }
        r = kr_need_args(argc, argv, optind, 1, 1, "update --resources FILE|- <container-id>");
        if (r < 0)
                return r;
        if (!path)
                return log_error_errno(EINVAL, "update: --resources FILE|- is required");

        r = read_resources(path, &res);
        if (r < 0)
                return r;
        /* Every known member is type- and range-checked before anything reaches the guest. */
        r = kc_request_update_container(argv[optind], res, &req, &invalid);
        if (r < 0)
                return log_error_errno(r, "update: %s", invalid ? invalid : "invalid container id");

        r = kr_container_open(ctx, argv[optind], true, &lock_fd, &s);
        if (r < 0)
                return r;
        if (kr_status_check(kr_state_effective_status(s), KR_VERB_UPDATE, &reason) < 0)
                return log_error_errno(ESRCH, "update: %s (container %s)", reason, s->id);

        json_object_set_string_member(req, "container-id", s->id);
        r = kr_mux_call_once(s, req, NULL, &message);
        if (r == -ENOSYS)
                return log_error_errno(r,
                                       "update: the agent of sandbox %s does not support resource updates",
                                       s->sandbox_id);
        if (r < 0)
                return log_error_errno(r, "Failed to update container %s: %s", s->id,
                                       message ? message : strerror(-r));
        return 0;
}
