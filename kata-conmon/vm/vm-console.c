/* Line-splitting reader for the guest console and QEMU's stderr, bounded in memory; each line is
 * logged under the source's own identifier (kata-guest, kata-qemu, kata-virtiofsd). */
#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "fd-util.h"
#include "log.h"
#include "vm-console.h"

#define LINE_MAX_BYTES 1024
#define TAIL_MAX 2048

struct KcVmConsole {
        int fd;
        guint source;
        char *ident;  /* "kata-<name>" */
        int priority; /* of lines without a level of their own */
        GString *line;
        GString *tail;
        KcVmConsoleLineFunc on_line;
        void *on_line_userdata;
};

/* The agent writes "[kata-agent:<e|w|i|d>]: ..." on the console: its lines keep their level (an
 * agent error shows in `journalctl -p err`). Everything else gets the source's default. */
static int line_priority(const KcVmConsole *c, const char *s) {
        static const char agent[] = "[kata-agent:";
        const size_t n = sizeof(agent) - 1;

        if (strncmp(s, agent, n) != 0 || !s[n] || strncmp(s + n + 1, "]:", 2) != 0)
                return c->priority;
        switch (s[n]) {
        case 'e':
                return LOG_ERR;
        case 'w':
                return LOG_WARNING;
        case 'i':
                return LOG_INFO;
        case 'd':
                return LOG_DEBUG;
        default:
                return c->priority;
        }
}

/* The line goes through our diagnostics (level filter, journald fields KATA_SANDBOX_ID,
 * KATA_VM_PID, CONTAINER_ID_FULL; stderr; syslog) but under the source's identifier: the
 * journald sink takes SYSLOG_IDENTIFIER from kc_log_get_ident(), the stderr sink prints it.
 * Single-threaded, so swapping the identifier around one record is safe. */
static void log_line(KcVmConsole *c) {
        const char *saved = kc_log_get_ident();

        kc_log_set_ident(c->ident);
        log_full_errno(line_priority(c, c->line->str), 0, "%s", c->line->str);
        kc_log_set_ident(saved);
}

static void emit(KcVmConsole *c) {
        /* Strip the serial line's \r and unprintable bytes: a guest must not forge log lines. */
        for (gsize i = 0; i < c->line->len; i++)
                if ((unsigned char) c->line->str[i] < 0x20 && c->line->str[i] != '\t')
                        c->line->str[i] = ' ';
        g_strchomp(c->line->str);
        c->line->len = strlen(c->line->str);
        if (c->line->len > 0) {
                log_line(c);
                if (c->on_line)
                        c->on_line(c->line->str, c->on_line_userdata);
                g_string_append(c->tail, c->line->str);
                g_string_append_c(c->tail, '\n');
                if (c->tail->len > TAIL_MAX) {
                        const char *nl = strchr(c->tail->str + (c->tail->len - TAIL_MAX), '\n');
                        g_string_erase(c->tail, 0,
                                       nl ? nl - c->tail->str + 1 : (gssize) (c->tail->len - TAIL_MAX));
                }
        }
        g_string_truncate(c->line, 0);
}

/* Returns false at EOF or error. */
static bool read_some(KcVmConsole *c) {
        char buf[4096];
        ssize_t n;

        do
                n = read(c->fd, buf, sizeof(buf));
        while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return true;
        if (n <= 0) {
                if (c->line->len)
                        emit(c);
                return false;
        }
        for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\n' || c->line->len >= LINE_MAX_BYTES)
                        emit(c);
                if (buf[i] != '\n')
                        g_string_append_c(c->line, buf[i]);
        }
        return true;
}

static gboolean on_readable(int fd, GIOCondition cond, gpointer userdata) {
        KcVmConsole *c = userdata;

        if (read_some(c))
                return G_SOURCE_CONTINUE;
        c->source = 0;
        return G_SOURCE_REMOVE;
}

KcVmConsole *kc_vm_console_new(int fd, const char *name) {
        KcVmConsole *c = g_new0(KcVmConsole, 1);

        c->fd = fd;
        (void) fd_set_nonblock(fd, true);
        c->ident = g_strconcat("kata-", name, NULL);
        /* QEMU and virtiofsd (at log_level=warn) write only problems to stderr. */
        c->priority = strcmp(name, "guest") == 0 ? LOG_INFO : LOG_WARNING;
        c->line = g_string_new(NULL);
        c->tail = g_string_new(NULL);
        c->source = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, c);
        return c;
}

void kc_vm_console_set_line_func(KcVmConsole *c, KcVmConsoleLineFunc func, void *userdata) {
        c->on_line = func;
        c->on_line_userdata = userdata;
}

void kc_vm_console_drain(KcVmConsole *c) {
        if (!c || c->fd < 0)
                return;
        for (int i = 0; i < 64; i++)
                if (!read_some(c))
                        break;
}

const char *kc_vm_console_tail(KcVmConsole *c) {
        return c ? c->tail->str : "";
}

void kc_vm_console_free(KcVmConsole *c) {
        if (!c)
                return;
        if (c->source)
                g_source_remove(c->source);
        safe_close(c->fd);
        g_free(c->ident);
        g_string_free(c->line, true);
        g_string_free(c->tail, true);
        g_free(c);
}
