/* The OCI runtime argv for create, restore and exec, built as conmon builds it. */
#pragma once

#include "options.h"

/* Returns a NULL-terminated argv (g_strfreev). console_socket may be NULL. */
char **kc_runtime_argv(const KcOptions *o, const char *bundle, const char *pidfile,
                       const char *console_socket);
