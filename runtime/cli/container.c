/* Helpers shared by the verbs: opening a container under its lock, argument checks, JSON output. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kata-runtime.h"
#include "log.h"
#include "message.h"

int kr_log_not_found(const char *id) {
        /* CRI-O maps "container not running" / "no such process" to ErrNotFound and ignores "not
         * found" from delete; podman and runc users look for "does not exist". */
        return log_error_errno(ENOENT, "container not running: container \"%s\" does not exist (not found)",
                               id);
}

int kr_container_open(KrContext *ctx, const char *id, bool exclusive, int *ret_lock_fd, KrState **ret) {
        _cleanup_close_ int lock_fd = -EBADF;
        g_autoptr(KrState) s = NULL;
        int r;

        if (!kc_id_is_valid(id))
                return log_error_errno(EINVAL, "invalid container id \"%s\": container not running", id);

        kc_log_set_field("CONTAINER_ID_FULL", id);
        r = kr_state_lock(ctx->root, id, exclusive, &lock_fd);
        if (r == -ENOENT)
                return kr_log_not_found(id);
        if (r < 0)
                return log_error_errno(r, "Failed to lock container %s under %s: %m", id, ctx->root);

        r = kr_state_load(ctx->root, id, &s);
        if (r == -ENOENT)
                /* A directory without state: a monitor still creating it, or debris. */
                return kr_log_not_found(id);
        if (r == -EBADMSG)
                return log_error_errno(r, "Corrupt state of container %s in %s/%s/state.json", id, ctx->root,
                                       id);
        if (r < 0)
                return log_error_errno(r, "Failed to read state of container %s: %m", id);

        kc_log_set_field("KATA_SANDBOX_ID", s->sandbox_id);
        *ret_lock_fd = TAKE_FD(lock_fd);
        *ret = g_steal_pointer(&s);
        return 0;
}

int kr_need_args(int argc, char **argv, int optind_, int min, int max, const char *usage) {
        int n = argc - optind_;

        if (n < min || (max >= 0 && n > max))
                return log_error_errno(EINVAL,
                                       "%s: expected %s%d argument%s, got %d; usage: kata-runtime %s",
                                       argv[0], n < min ? "at least " : "at most ", n < min ? min : max,
                                       (n < min ? min : max) == 1 ? "" : "s", n, usage);
        return 0;
}

int kr_print_json(JsonObject *o, bool pretty) {
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
        g_autofree char *text = NULL;

        json_node_set_object(node, o);
        text = json_to_string(node, pretty);
        if (printf("%s\n", text) < 0 || fflush(stdout) != 0)
                return log_error_errno(EIO, "Failed to write to stdout: %m");
        return 0;
}
