/* --sdnotify-socket: relay the container's sd_notify messages (filtered) to the host socket. */
#pragma once

#include <stddef.h>

typedef struct KcSdNotify KcSdNotify;

/* Binds <bundle>/notify/notify.sock (the directory must exist) and relays to host_socket. */
int kc_sdnotify_new(const char *bundle, const char *host_socket, KcSdNotify **ret);
void kc_sdnotify_free(KcSdNotify *n);
/* Keeps only the lines a container may send to the host (READY=1, STATUS=..., ...), joined
 * with newlines. Returns NULL when nothing is left. Pure, for tests. */
char *kc_sdnotify_filter(const char *msg, size_t len);
