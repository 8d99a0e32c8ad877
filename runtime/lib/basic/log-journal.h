/* journald sink for our diagnostics (links libsystemd; the guest agent never links this). */
#pragma once

#include <stdbool.h>

/* Installs the journald sink when /run/systemd/journal/socket exists. Keeps stderr output
 * when keep_stderr. Returns true when journald is in use. */
bool kc_log_journal_install(bool keep_stderr);
