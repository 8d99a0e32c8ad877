/* Messages to the caller on _OCI_SYNCPIPE / _OCI_ATTACHPIPE: conmon's one-line JSON. */
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "sync-pipe.h"

char *kc_json_escape(const char *s, size_t len) {
        GString *out = g_string_sized_new(len + 16);

        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];

                switch (c) {
                case '\\':
                        g_string_append(out, "\\\\");
                        break;
                case '"':
                        g_string_append(out, "\\\"");
                        break;
                case '\n':
                        g_string_append(out, "\\n");
                        break;
                case '\r':
                        g_string_append(out, "\\r");
                        break;
                case '\t':
                        g_string_append(out, "\\t");
                        break;
                case '\b':
                        g_string_append(out, "\\b");
                        break;
                case '\f':
                        g_string_append(out, "\\f");
                        break;
                default:
                        if (c < 0x20)
                                g_string_append_printf(out, "\\u%04x", c);
                        else
                                g_string_append_c(out, (char) c);
                }
        }
        return g_string_free(out, FALSE);
}

char *kc_sync_format(const char *key, int value, const char *message) {
        g_autofree char *escaped = NULL;

        if (!message)
                return g_strdup_printf("{\"%s\": %d}\n", key, value);
        escaped = kc_json_escape(message, strlen(message));
        return g_strdup_printf("{\"%s\": %d, \"message\": \"%s\"}\n", key, value, escaped);
}

const char *kc_sync_key(bool api_version, bool exec) {
        if (api_version)
                return "data";
        return exec ? "exit_code" : "pid";
}

int kc_sync_fd_from_env(const char *name) {
        const char *v = getenv(name);
        int fd;

        if (!v)
                return -ENOENT;
        fd = parse_fd(v);
        if (fd < 0)
                return -EINVAL;
        if (fd_set_cloexec(fd, true) < 0)
                return -EBADF;
        return fd;
}

int kc_sync_send(int *fd, const char *key, int value, const char *message) {
        g_autofree char *msg = NULL;
        size_t len;
        ssize_t n;

        if (*fd < 0)
                return 0;
        msg = kc_sync_format(key, value, message);
        len = strlen(msg);
        log_debug("Sending on pipe %d: %.*s", *fd, (int) len - 1, msg);
        /* One write() so that a SEQPACKET peer gets the message as one packet. */
        do
                n = write(*fd, msg, len);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                int r = -errno;
                if (r != -EPIPE)
                        log_warning_errno(r, "Failed to write to the sync pipe: %m");
                safe_close(*fd);
                *fd = -1;
                return r;
        }
        if ((size_t) n != len)
                log_warning("Short write on the sync pipe (%zd of %zu bytes)", n, len);
        return 0;
}
