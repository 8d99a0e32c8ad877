/* Synchronous agent calls for the CLI through the sandbox monitor's mux socket. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "macro.h"
#include "mux.h"

char *kr_sandbox_dir(const KrState *s) {
        const char *base;

        if (s->sandbox_dir)
                return g_strdup(s->sandbox_dir);
        base = g_getenv("KATA_CONMON_VM_RUN_DIR");
        return g_build_filename(base && *base ? base : KR_DEFAULT_SANDBOX_BASE, s->sandbox_id, NULL);
}

int kr_mux_connect(const char *sandbox_dir, const KcAgentClientOps *ops, void *userdata, int timeout_ms,
                   KcAgentClient **ret) {
        _cleanup_close_ int fd = -EBADF;
        g_autofree char *path = g_build_filename(sandbox_dir, KR_MUX_SOCKET, NULL);
        g_autoptr(KcAgentClient) c = NULL;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int r;

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return negative_errno();

        c = kc_agent_client_new(TAKE_FD(fd), ops, userdata);
        r = kc_agent_client_wait_hello(c, timeout_ms);
        if (r < 0)
                return r;
        *ret = g_steal_pointer(&c);
        return 0;
}

int kr_mux_call(KcAgentClient *c, JsonObject *req, JsonObject **ret_reply, char **ret_message) {
        g_autoptr(JsonObject) reply = NULL;
        const char *msg = NULL;
        int r;

        r = kc_agent_client_call(c, req, KR_CALL_TIMEOUT_MS, &reply);
        if (r < 0 && reply && ret_message) {
                (void) kc_reply_parse(reply, &msg);
                *ret_message = g_strdup(msg);
        }
        if (ret_reply)
                *ret_reply = g_steal_pointer(&reply);
        return r;
}

int kr_mux_call_once(const KrState *s, JsonObject *req, JsonObject **ret_reply, char **ret_message) {
        g_autofree char *dir = kr_sandbox_dir(s);
        g_autoptr(KcAgentClient) c = NULL;
        int r;

        r = kr_mux_connect(dir, NULL, NULL, KR_CALL_TIMEOUT_MS, &c);
        if (r < 0)
                return r;
        return kr_mux_call(c, req, ret_reply, ret_message);
}
