/* The OCI runtime argv for create, restore and exec, built as conmon builds it. */
#include <glib.h>

#include "runtime-args.h"

static void add_all(GPtrArray *a, char **v) {
        for (; v && *v; v++)
                g_ptr_array_add(a, g_strdup(*v));
}

static void add(GPtrArray *a, const char *s) {
        g_ptr_array_add(a, g_strdup(s));
}

char **kc_runtime_argv(const KcOptions *o, const char *bundle, const char *pidfile,
                       const char *console_socket) {
        GPtrArray *a = g_ptr_array_new();

        add(a, o->runtime);
        if (o->systemd_cgroup && !o->exec)
                add(a, "--systemd-cgroup");
        add_all(a, o->runtime_args);

        if (o->exec) {
                add(a, "exec");
                add(a, "--pid-file");
                add(a, pidfile);
                add(a, "--process");
                add(a, o->exec_process_spec);
                /* No --tty: the OCI CLI does not require it and some runtimes reject it. */
                add(a, "--detach");
        } else {
                add(a, o->restore ? "restore" : "create");
                add(a, "--bundle");
                add(a, bundle);
                add(a, "--pid-file");
                add(a, pidfile);
                if (o->no_pivot)
                        add(a, "--no-pivot");
                if (o->no_new_keyring)
                        add(a, "--no-new-keyring");
                if (o->restore) {
                        add(a, "--detach");
                        add(a, "--image-path");
                        add(a, o->restore);
                        add(a, "--work-path");
                        add(a, bundle);
                }
        }
        add_all(a, o->runtime_opts);
        if (console_socket) {
                add(a, "--console-socket");
                add(a, console_socket);
        }
        add(a, o->cid);
        g_ptr_array_add(a, NULL);
        return (char **) g_ptr_array_free(a, FALSE);
}
