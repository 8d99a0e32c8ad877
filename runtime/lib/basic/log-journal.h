/* journald sink for our diagnostics (links libsystemd; the guest agent never links this). */
#pragma once

#include <stdbool.h>

/* Every record gets SYSLOG_IDENTIFIER=kc_log_get_ident() as of the moment it is logged, so a relay
 * of another program's lines (the VM engine's guest console) may set its own identifier around a
 * record with kc_log_set_ident() and restore it after; the kc_log_set_field() fields still apply. */

/* Installs the journald sink when /run/systemd/journal/socket exists. Keeps stderr output
 * when keep_stderr. Returns true when journald is in use. */
bool kc_log_journal_install(bool keep_stderr);
