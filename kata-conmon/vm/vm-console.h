/* Captures a child's text stream (guest console, QEMU's stderr) line by line into our diagnostics. */
#pragma once

typedef struct KcVmConsole KcVmConsole;

/* Takes ownership of fd. Each line is logged unprefixed, with SYSLOG_IDENTIFIER "kata-<name>"
 * (name: "guest", "qemu", "virtiofsd") and our usual journald fields; priority: the kata-agent's
 * own level for its "[kata-agent:<l>]: " lines, else info for "guest" and warning otherwise. */
KcVmConsole *kc_vm_console_new(int fd, const char *name);
/* Called with every (sanitized) line after it was logged. */
typedef void (*KcVmConsoleLineFunc)(const char *line, void *userdata);
void kc_vm_console_set_line_func(KcVmConsole *c, KcVmConsoleLineFunc func, void *userdata);
/* Reads whatever is still buffered in the fd (non-blocking). */
void kc_vm_console_drain(KcVmConsole *c);
/* The last lines seen (at most ~2 KiB), for error messages. */
const char *kc_vm_console_tail(KcVmConsole *c);
void kc_vm_console_free(KcVmConsole *c);
