/* kata-runtime: global options and the dispatch table of verbs. */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "oci-features.h"
#include "kata-runtime.h"
#include "log.h"
#include "vm-config.h"

/* create/run are the monitor's: kata-conmon boots the VM or adds the container itself. A generic
 * conmon calling us would otherwise get a confusing "unknown command". */
static int cmd_monitor_only(KrContext *ctx, int argc, char **argv) {
        return log_error_errno(
                ENOTSUP,
                "kata-runtime %s: containers are created by kata-conmon (its VM engine), "
                "not by this CLI; set monitor_path to kata-conmon in the CRI-O runtime handler "
                "(podman: --conmon kata-conmon)",
                argv[0]);
}

/* CRI-O only offers checkpointing when the runtime supports it; we don't (the state is in a VM). */
static int cmd_unsupported(KrContext *ctx, int argc, char **argv) {
        return log_error_errno(
                ENOTSUP, "kata-runtime %s: checkpoint/restore is not supported for VM containers", argv[0]);
}

static const struct {
        const char *name;
        KrVerbFunc func;
        const char *help;
} verbs[] = {
        {"start", kr_cmd_start, "start a created container"},
        {"state", kr_cmd_state, "print the OCI state of a container"},
        {"kill", kr_cmd_kill, "send a signal to a container's process"},
        {"delete", kr_cmd_delete, "delete a container and everything it owns"},
        {"exec", kr_cmd_exec, "run a process in a container"},
        {"update", kr_cmd_update, "update a container's resource limits"},
        {"pause", kr_cmd_pause, "suspend every process of a container"},
        {"resume", kr_cmd_resume, "resume a paused container"},
        {"ps", kr_cmd_ps, "list a container's host processes"},
        {"list", kr_cmd_list, "list containers"},
        {"features", kr_cmd_features, "print the OCI features document"},
        {"check", kr_cmd_check, "check whether this host can run pods"},
        {"kata-check", kr_cmd_check, NULL},
        {"env", kr_cmd_env, "print the effective configuration"},
        {"create", cmd_monitor_only, NULL},
        {"run", cmd_monitor_only, NULL},
        {"checkpoint", cmd_unsupported, NULL},
        {"restore", cmd_unsupported, NULL},
        {"kata-env", kr_cmd_env, NULL},
};

static void print_version(void) {
        printf("kata-runtime version %s\n"
               "commit: %s\n"
               "spec: %s\n",
               PACKAGE_VERSION, GIT_COMMIT, KR_OCI_VERSION_MAX);
}

static void print_help(void) {
        printf("Usage: kata-runtime [global options] command [command options] [arguments]\n\n"
               "An OCI runtime that runs each pod in its own QEMU virtual machine.\n\n"
               "Global options:\n"
               "  --root DIR            state directory (default %s)\n"
               "  --systemd-cgroup      accepted for compatibility (containers use the guest's cgroups)\n"
               "  --log FILE            also write diagnostics to FILE\n"
               "  --log-format FORMAT   text (default) or json\n"
               "  --debug               verbose diagnostics\n"
               "  --config FILE         kata-conmon.conf to use (sets KATA_CONMON_CONF)\n"
               "  -v, --version         print the version\n"
               "  -h, --help            print this help\n\n"
               "Commands:\n",
               KR_DEFAULT_ROOT);
        for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++)
                if (verbs[i].help)
                        printf("  %-10s %s\n", verbs[i].name, verbs[i].help);
}

enum {
        ARG_ROOT = 0x100,
        ARG_LOG,
        ARG_LOG_FORMAT,
        ARG_SYSTEMD_CGROUP,
        ARG_DEBUG,
        ARG_ROOTLESS,
        ARG_CRIU,
        ARG_CONFIG,
};

static int parse_global(KrContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"root", required_argument, NULL, ARG_ROOT},
                {"log", required_argument, NULL, ARG_LOG},
                {"log-format", required_argument, NULL, ARG_LOG_FORMAT},
                {"systemd-cgroup", no_argument, NULL, ARG_SYSTEMD_CGROUP},
                {"debug", no_argument, NULL, ARG_DEBUG},
                /* Accepted and ignored, as other runtimes do, so generic callers work. */
                {"rootless", required_argument, NULL, ARG_ROOTLESS},
                {"criu", required_argument, NULL, ARG_CRIU},
                {"config", required_argument, NULL, ARG_CONFIG},
                {"kata-config", required_argument, NULL, ARG_CONFIG},
                {"version", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+vh", options, NULL)) >= 0)
                switch (c) {
                case ARG_ROOT:
                        if (!*optarg)
                                return log_error_errno(EINVAL, "--root must not be empty");
                        ctx->root = optarg;
                        break;
                case ARG_LOG:
                        ctx->log_path = optarg;
                        break;
                case ARG_LOG_FORMAT:
                        if (kr_log_format_from_string(optarg, &ctx->log_format) < 0)
                                return log_error_errno(EINVAL, "invalid --log-format \"%s\" (text or json)",
                                                       optarg);
                        break;
                case ARG_SYSTEMD_CGROUP:
                        ctx->systemd_cgroup = true;
                        break;
                case ARG_DEBUG:
                        ctx->debug = true;
                        break;
                case ARG_CONFIG:
                        /* The same override the monitor honours, for check and env. */
                        if (setenv("KATA_CONMON_CONF", optarg, 1) < 0)
                                return log_error_errno(errno, "Failed to set KATA_CONMON_CONF: %m");
                        break;
                case ARG_ROOTLESS:
                case ARG_CRIU:
                        break;
                case 'v':
                        print_version();
                        return 0;
                case 'h':
                        print_help();
                        return 0;
                case '?':
                        if (optopt > 0 && optopt < 0x100)
                                return log_error_errno(EINVAL, "unknown or incomplete option -%c", optopt);
                        return log_error_errno(EINVAL, "unknown option or missing argument: %s",
                                               argv[optind - 1]);
                default:
                        g_assert_not_reached();
                }
        return 1;
}

int main(int argc, char **argv) {
        KrContext ctx = {.log_format = KR_LOG_TEXT};
        g_autoptr(KcVmConfig) config = NULL;
        const char *verb;
        int r;

        setlocale(LC_ALL, "C");
        /* A caller that went away must not kill us half-way through a state change. */
        signal(SIGPIPE, SIG_IGN);
        (void) kr_log_setup(NULL, KR_LOG_TEXT, false);

        r = parse_global(&ctx, argc, argv);
        if (r <= 0)
                return r < 0 ? 1 : 0;

        r = kr_log_setup(ctx.log_path, ctx.log_format, ctx.debug);
        if (r < 0) {
                log_error_errno(r, "Failed to open log file %s: %m", ctx.log_path);
                return 1;
        }

        /* --root (CRI-O always passes its runtime_root) wins; else [runtime] runtime_root of
         * kata-conmon.conf, as the monitor does. A broken file must not stop state/delete. */
        if (!ctx.root) {
                if (kc_vm_config_load(&config) >= 0)
                        ctx.root = config->runtime_root;
                else
                        log_warning("Using the default state directory %s", KR_DEFAULT_ROOT);
                if (!ctx.root)
                        ctx.root = KR_DEFAULT_ROOT;
        }

        if (optind >= argc) {
                print_help();
                log_error("no command given");
                return 1;
        }

        verb = argv[optind];
        for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++) {
                if (strcmp(verb, verbs[i].name) != 0)
                        continue;
                argc -= optind;
                argv += optind;
                optind = 0; /* 0 makes glibc re-initialise getopt for the verb's options */
                r = verbs[i].func(&ctx, argc, argv);
                kr_log_close();
                return r < 0 ? 1 : r;
        }
        if (strcmp(verb, "version") == 0) {
                print_version();
                return 0;
        }
        log_error("unknown command \"%s\" (try --help)", verb);
        kr_log_close();
        return 1;
}
