/* Command-line parsing and validation with conmon's option table and error messages. */
#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "log.h"

typedef enum OptType {
        OPT_FLAG,
        OPT_STRING,
        OPT_STRV,
        OPT_INT,
        OPT_INT64,
} OptType;

typedef struct OptDef {
        const char *long_name;
        char short_name;
        OptType type;
        size_t offset;
        bool hidden;
        const char *help;
} OptDef;

#define O(f) offsetof(KcOptions, f)

static const OptDef option_table[] = {
        {"api-version", 0, OPT_FLAG, O(api_version), false,
         "Use the newer message format on the sync and attach pipes"},
        {"bundle", 'b', OPT_STRING, O(bundle), false, "OCI bundle directory"},
        {"cid", 'c', OPT_STRING, O(cid), false, "Container ID"},
        {"conmon-pidfile", 'P', OPT_STRING, O(conmon_pidfile), false,
         "Where to write the monitor's own PID"},
        {"container-pidfile", 'p', OPT_STRING, O(container_pidfile), false,
         "PID file the runtime writes for the container's first process"},
        {"pidfile", 0, OPT_STRING, O(container_pidfile), true, NULL},
        {"cuuid", 'u', OPT_STRING, O(cuuid), false, "Container UUID (names the attach socket link)"},
        {"exec", 'e', OPT_FLAG, O(exec), false, "Exec a command into a running container"},
        {"exec-attach", 0, OPT_FLAG, O(exec_attach), false,
         "Wait for an attach client before starting the exec session"},
        {"exec-process-spec", 0, OPT_STRING, O(exec_process_spec), false,
         "Process JSON for the exec session"},
        {"exit-command", 0, OPT_STRING, O(exit_command), false, "Program to run after the container exited"},
        {"exit-command-arg", 0, OPT_STRV, O(exit_command_args), false,
         "Argument for the exit command (repeatable)"},
        {"exit-delay", 0, OPT_INT, O(exit_delay), false, "Seconds to wait before running the exit command"},
        {"exit-dir", 0, OPT_STRING, O(exit_dir), false, "Directory for the <cid> exit status file"},
        {"full-attach", 0, OPT_FLAG, O(full_attach), false,
         "Create the attach socket in the bundle (ignores --socket-dir-path)"},
        {"leave-stdin-open", 0, OPT_FLAG, O(leave_stdin_open), false,
         "Keep container stdin open when an attach client goes away"},
        {"log-level", 0, OPT_STRING, O(log_level), false,
         "Level of the monitor's own diagnostics (error, warn, info, debug, trace)"},
        {"log-path", 'l', OPT_STRV, O(log_paths), false,
         "Log driver and path: [k8s-file:]PATH, journald, passthrough or none (repeatable)"},
        {"log-size-max", 0, OPT_INT64, O(log_size_max), false, "Maximum size of the k8s-file log"},
        {"log-global-size-max", 0, OPT_INT64, O(log_global_size_max), false,
         "Maximum number of bytes written to the k8s-file log in total"},
        {"log-tag", 0, OPT_STRING, O(log_tag), false, "Tag for journald records"},
        {"log-label", 0, OPT_STRV, O(log_labels), false,
         "KEY=VALUE field added to journald records (repeatable)"},
        {"log-rotate", 0, OPT_FLAG, O(log_rotate), false,
         "Rotate the k8s-file log instead of truncating it"},
        {"log-max-files", 0, OPT_INT, O(log_max_files), false, "Number of rotated log files to keep"},
        {"log-allowlist-dir", 0, OPT_STRV, O(log_allowlist_dirs), false,
         "Directory rotated logs may live in (repeatable)"},
        {"no-container-partial-message", 0, OPT_FLAG, O(no_container_partial_message), false,
         "Do not mark partial journald records"},
        {"name", 'n', OPT_STRING, O(name), false, "Container name"},
        {"no-new-keyring", 0, OPT_FLAG, O(no_new_keyring), false, "Pass --no-new-keyring to the runtime"},
        {"no-pivot", 0, OPT_FLAG, O(no_pivot), false, "Pass --no-pivot to the runtime"},
        {"no-sync-log", 0, OPT_FLAG, O(no_sync_log), false, "Do not fsync the log when the container exits"},
        {"persist-dir", '0', OPT_STRING, O(persist_dir), false,
         "Directory for the exit and oom files that outlive a reboot of the runtime state"},
        {"replace-listen-pid", 0, OPT_FLAG, O(replace_listen_pid), false,
         "Always set LISTEN_PID to the runtime's PID"},
        {"restore", 0, OPT_STRING, O(restore), false,
         "Restore the container from this checkpoint directory"},
        {"restore-arg", 0, OPT_STRV, O(runtime_opts), true, NULL},
        {"runtime", 'r', OPT_STRING, O(runtime), false, "Path of the OCI runtime"},
        {"runtime-arg", 0, OPT_STRV, O(runtime_args), false,
         "Global runtime option, before the subcommand (repeatable)"},
        {"runtime-opt", 0, OPT_STRV, O(runtime_opts), false,
         "Option for the create, restore or exec subcommand (repeatable)"},
        {"sdnotify-socket", 0, OPT_STRING, O(sdnotify_socket), false,
         "Host sd-notify socket to relay the container's notifications to"},
        {"socket-dir-path", 0, OPT_STRING, O(socket_dir_path), false,
         "Directory of the attach socket links"},
        {"stdin", 'i', OPT_FLAG, O(stdin_), false, "Give the container a stdin pipe"},
        {"sync", 0, OPT_FLAG, O(sync), false, "Do not daemonize: the caller waits for the monitor itself"},
        {"syslog", 0, OPT_FLAG, O(syslog), false, "Also send diagnostics to syslog"},
        {"systemd-cgroup", 's', OPT_FLAG, O(systemd_cgroup), false, "Pass --systemd-cgroup to the runtime"},
        {"terminal", 't', OPT_FLAG, O(terminal), false,
         "Allocate a pseudo-terminal through the runtime's console socket"},
        {"timeout", 'T', OPT_INT, O(timeout), false, "Kill the container after this many seconds"},
        {"version", 0, OPT_FLAG, O(version), false, "Print the version and exit"},
        {"seccomp-notify-socket", 0, OPT_STRING, O(seccomp_notify_socket), false, "Accepted and ignored"},
        {"seccomp-notify-plugins", 0, OPT_STRING, O(seccomp_notify_plugins), false, "Accepted and ignored"},
};

static void *field(KcOptions *opts, const OptDef *d) {
        return (char *) opts + d->offset;
}

static int parse_integer(const char *name, const char *value, long long min, long long max, long long *ret,
                         char **ret_error) {
        char *end = NULL;
        long long v;

        errno = 0;
        v = strtoll(value, &end, 0);
        if (!end || end == value || *end != '\0') {
                *ret_error =
                        g_strdup_printf("Cannot parse integer value \u201c%s\u201d for %s", value, name);
                return -EINVAL;
        }
        if (errno == ERANGE || v < min || v > max) {
                *ret_error =
                        g_strdup_printf("Integer value \u201c%s\u201d for %s out of range", value, name);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static int store_value(KcOptions *opts, const OptDef *d, const char *name, const char *value,
                       char **ret_error) {
        void *p = field(opts, d);
        long long v;
        int r;

        switch (d->type) {
        case OPT_STRING:
                g_free(*(char **) p);
                *(char **) p = g_strdup(value);
                return 0;
        case OPT_STRV: {
                char **old = *(char ***) p;
                guint n = old ? g_strv_length(old) : 0;
                char **nv = g_renew(char *, old, n + 2);
                nv[n] = g_strdup(value);
                nv[n + 1] = NULL;
                *(char ***) p = nv;
                return 0;
        }
        case OPT_INT:
                r = parse_integer(name, value, INT_MIN, INT_MAX, &v, ret_error);
                if (r < 0)
                        return r;
                *(int *) p = (int) v;
                return 0;
        case OPT_INT64:
                r = parse_integer(name, value, LLONG_MIN, LLONG_MAX, &v, ret_error);
                if (r < 0)
                        return r;
                *(int64_t *) p = (int64_t) v;
                return 0;
        case OPT_FLAG:
                *(bool *) p = true;
                return 0;
        }
        return -EINVAL;
}

static const OptDef *find_long(const char *name, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(option_table); i++)
                if (strlen(option_table[i].long_name) == len &&
                    strncmp(option_table[i].long_name, name, len) == 0)
                        return &option_table[i];
        return NULL;
}

static const OptDef *find_short(char c) {
        for (size_t i = 0; i < ELEMENTSOF(option_table); i++)
                if (option_table[i].short_name == c)
                        return &option_table[i];
        return NULL;
}

static void options_init(KcOptions *opts) {
        *opts = (KcOptions){
                .log_max_files = 1,
        };
}

int kc_cli_parse(int argc, char **argv, KcOptions *opts, char **ret_error) {
        options_init(opts);

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                int r;

                if (strcmp(a, "--") == 0)
                        break; /* the rest is positional, which we ignore */
                if (a[0] != '-' || a[1] == '\0')
                        continue; /* stray positional (e.g. the "1" after --api-version) */

                if (a[1] == '-') {
                        const char *name = a + 2;
                        const char *eq = strchr(name, '=');
                        size_t len = eq ? (size_t) (eq - name) : strlen(name);
                        const OptDef *d;
                        _cleanup_free_ char *shown = NULL;

                        if (len == 4 && strncmp(name, "help", 4) == 0 && !eq) {
                                opts->help = true;
                                return 0;
                        }
                        d = find_long(name, len);
                        if (!d || (d->type == OPT_FLAG && eq)) {
                                *ret_error = g_strdup_printf("Unknown option %s", a);
                                return -EINVAL;
                        }
                        shown = strndup(a, len + 2);
                        if (d->type == OPT_FLAG)
                                r = store_value(opts, d, shown, NULL, ret_error);
                        else if (eq)
                                r = store_value(opts, d, shown, eq + 1, ret_error);
                        else if (i + 1 < argc)
                                r = store_value(opts, d, shown, argv[++i], ret_error);
                        else {
                                *ret_error = g_strdup_printf("Missing argument for %s", shown);
                                return -EINVAL;
                        }
                        if (r < 0)
                                return r;
                        continue;
                }

                /* A group of short options: flags may be combined ("-it"); an option with a
                 * value takes the rest of the group ("-cID") or the next argument. */
                for (const char *c = a + 1; *c; c++) {
                        const OptDef *d;
                        char shown[3] = {'-', *c, '\0'};

                        if (*c == 'h') {
                                opts->help = true;
                                return 0;
                        }
                        d = find_short(*c);
                        if (!d) {
                                *ret_error = g_strdup_printf("Unknown option %s", a);
                                return -EINVAL;
                        }
                        if (d->type == OPT_FLAG) {
                                r = store_value(opts, d, shown, NULL, ret_error);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        if (c[1] != '\0')
                                r = store_value(opts, d, shown, c + 1, ret_error);
                        else if (i + 1 < argc)
                                r = store_value(opts, d, shown, argv[++i], ret_error);
                        else {
                                *ret_error = g_strdup_printf("Missing argument for %s", shown);
                                return -EINVAL;
                        }
                        if (r < 0)
                                return r;
                        break;
                }
        }
        return 0;
}

int kc_cli_validate(const KcOptions *o, char **ret_message) {
        if (!o->cid) {
                *ret_message = g_strdup("conmon: Container ID not provided. Use --cid");
                return -EINVAL;
        }
        if (o->log_level && kc_log_parse_level(o->log_level) < 0) {
                *ret_message = g_strdup_printf("[conmon:e]: No such log level %s", o->log_level);
                return -EINVAL;
        }
        /* A legacy exec session (exec without --api-version) has no attach socket, so no UUID. */
        if (!o->cuuid && (!o->exec || o->api_version)) {
                *ret_message = g_strdup("[conmon:e] Container UUID not provided. Use --cuuid");
                return -EINVAL;
        }
        if (!o->runtime) {
                *ret_message = g_strdup("[conmon:e] Runtime path not provided. Use --runtime");
                return -EINVAL;
        }
        if (access(o->runtime, X_OK) < 0) {
                *ret_message = g_strdup_printf("[conmon:e]: Runtime path %s is not valid %s", o->runtime,
                                               g_strerror(errno));
                return -EINVAL;
        }
        if (o->exec && !o->exec_process_spec) {
                *ret_message =
                        g_strdup("[conmon:e] Exec process spec path not provided. Use --exec-process-spec");
                return -EINVAL;
        }
        if (o->exec_attach && !o->exec) {
                *ret_message = g_strdup("[conmon:e] Attach can only be specified with exec");
                return -EINVAL;
        }
        if (o->exec_attach && !o->api_version) {
                *ret_message =
                        g_strdup("[conmon:e] Attach can only be specified for a non-legacy exec session");
                return -EINVAL;
        }
        if (o->exit_delay < 0) {
                *ret_message = g_strdup(
                        "[conmon:e] Delay before invoking exit command must be greater than or equal to 0");
                return -EINVAL;
        }
        if (o->log_max_files < 1) {
                *ret_message = g_strdup("[conmon:e] --log-max-files must be at least 1");
                return -EINVAL;
        }
        return 0;
}

void kc_cli_print_help(FILE *f) {
        fputs("Usage:\n"
              "  conmon [OPTION\u2026] - conmon utility (kata-conmon " PACKAGE_VERSION ")\n"
              "\n"
              "Help Options:\n"
              "  -h, --help                   Show help options\n"
              "\n"
              "Application Options:\n",
              f);
        for (size_t i = 0; i < ELEMENTSOF(option_table); i++) {
                const OptDef *d = &option_table[i];
                char left[64];

                if (d->hidden)
                        continue;
                if (d->short_name)
                        snprintf(left, sizeof(left), "-%c, --%s", d->short_name, d->long_name);
                else
                        snprintf(left, sizeof(left), "--%s", d->long_name);
                fprintf(f, "  %-28s %s\n", left, d->help);
        }
        fputc('\n', f);
}

void kc_cli_print_version(FILE *f) {
        /* Exactly conmon's two lines: some callers count them. Our own version is in --help. */
        fprintf(f, "conmon version %s\ncommit: %s\n", CONMON_COMPAT_VERSION, GIT_COMMIT);
}

void kc_options_clear(KcOptions *opts) {
        for (size_t i = 0; i < ELEMENTSOF(option_table); i++) {
                const OptDef *d = &option_table[i];
                void *p = field(opts, d);

                if (d->type == OPT_STRING) {
                        g_free(*(char **) p);
                        *(char **) p = NULL;
                } else if (d->type == OPT_STRV) {
                        g_strfreev(*(char ***) p);
                        *(char ***) p = NULL;
                }
        }
}
