/* The runtime's console socket (-t): a listening socket that receives the pty master. */
#pragma once

typedef struct KcConsole KcConsole;

/* Creates $TMPDIR/conmon-term.XXXXXX and listens on it. */
int kc_console_new(KcConsole **ret);
const char *kc_console_path(const KcConsole *c);
/* Non-blocking: accepts one connection and receives one fd over SCM_RIGHTS. Returns the
 * pty master fd (CLOEXEC), -EAGAIN if nobody connected yet, or -errno. The path is unlinked
 * and the listener closed after the first connection. */
int kc_console_try_receive(KcConsole *c);
/* The listening fd to watch for readability, or -1 once closed. */
int kc_console_fd(const KcConsole *c);
void kc_console_free(KcConsole *c);
/* Sends fd over a unix socket with SCM_RIGHTS (used by tests and stand-ins). */
int kc_send_fd(int sock, int fd);
