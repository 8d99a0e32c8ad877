/* kc-vm-argv: prints the QEMU argv kata-conmon would run for a sandbox (tests, benchmarks, debugging). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fd-util.h"
#include "log.h"
#include "qemu-argv.h"
#include "vm-config.h"

static char *arg_config, *arg_sandbox_id, *arg_agent_socket, *arg_console_socket, *arg_qmp_socket;
static char *arg_virtiofs_socket, *arg_shared_dir, *arg_accel;
static int arg_agent_fd = -1, arg_console_fd = -1, arg_qmp_fd = -1, arg_memory, arg_vcpus;
static char **arg_annotations;
static gboolean arg_null;

static const GOptionEntry entries[] = {
        {"config", 0, 0, G_OPTION_ARG_FILENAME, &arg_config,
         "kata-conmon.conf to use (default: as kata-conmon)", "FILE"},
        {"sandbox-id", 0, 0, G_OPTION_ARG_STRING, &arg_sandbox_id, "sandbox id", "ID"},
        {"agent-fd", 0, 0, G_OPTION_ARG_INT, &arg_agent_fd, "socket fd of the agent channel", "N"},
        {"agent-socket", 0, 0, G_OPTION_ARG_FILENAME, &arg_agent_socket,
         "agent channel socket QEMU listens on", "PATH"},
        {"console-fd", 0, 0, G_OPTION_ARG_INT, &arg_console_fd, "socket fd of the console", "N"},
        {"console-socket", 0, 0, G_OPTION_ARG_FILENAME, &arg_console_socket,
         "console socket QEMU listens on", "PATH"},
        {"qmp-fd", 0, 0, G_OPTION_ARG_INT, &arg_qmp_fd, "socket fd of the QMP monitor", "N"},
        {"qmp-socket", 0, 0, G_OPTION_ARG_FILENAME, &arg_qmp_socket, "QMP socket QEMU listens on", "PATH"},
        {"virtiofs-socket", 0, 0, G_OPTION_ARG_FILENAME, &arg_virtiofs_socket, "virtiofsd's socket", "PATH"},
        {"shared-dir", 0, 0, G_OPTION_ARG_FILENAME, &arg_shared_dir, "directory shared with 9p", "DIR"},
        {"accel", 0, 0, G_OPTION_ARG_STRING, &arg_accel, "kvm, tcg or auto (default: the configuration's)",
         "A"},
        {"memory", 0, 0, G_OPTION_ARG_INT, &arg_memory, "guest memory in MiB", "M"},
        {"vcpus", 0, 0, G_OPTION_ARG_INT, &arg_vcpus, "vCPUs", "N"},
        {"annotation", 'a', 0, G_OPTION_ARG_STRING_ARRAY, &arg_annotations, "sandbox annotation",
         "KEY=VALUE"},
        {"null", '0', 0, G_OPTION_ARG_NONE, &arg_null, "separate arguments with NUL instead of newline",
         NULL},
        {},
};

int main(int argc, char **argv) {
        g_autoptr(GOptionContext) ctx = g_option_context_new("- print the QEMU command line of a sandbox");
        g_autoptr(GError) error = NULL;
        g_autoptr(KcVmConfig) c = NULL;
        g_autoptr(GHashTable) annotations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_auto(GStrv) qemu = NULL;
        KcAccel accel;
        int r;

        kc_log_set_ident("kc-vm-argv");
        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                log_error("%s", error->message);
                return 2;
        }
        r = arg_config ? kc_vm_config_load_file(arg_config, false, &c) : kc_vm_config_load(&c);
        if (r < 0)
                return 1;
        for (char **a = arg_annotations; a && *a; a++) {
                const char *eq = strchr(*a, '=');
                if (!eq) {
                        log_error("--annotation '%s': expected KEY=VALUE", *a);
                        return 2;
                }
                g_hash_table_replace(annotations, g_strndup(*a, eq - *a), g_strdup(eq + 1));
        }
        if (kc_vm_config_apply_annotations(c, annotations) < 0)
                return 1;

        accel = c->accel;
        if (arg_accel) {
                r = kc_accel_from_string(arg_accel);
                if (r < 0) {
                        log_error("--accel: '%s' is not one of kvm, tcg, auto", arg_accel);
                        return 2;
                }
                accel = r;
        }
        accel = kc_vm_resolve_accel(accel, accel == KC_ACCEL_AUTO && kc_vm_kvm_usable());

        KcVmParams p = {
                .sandbox_id = arg_sandbox_id,
                .accel = accel,
                .agent = {.fd = arg_agent_fd, .path = arg_agent_socket},
                .console = {.fd = arg_console_fd, .path = arg_console_socket},
                .qmp = {.fd = arg_qmp_fd, .path = arg_qmp_socket},
                .virtio_fs_socket = arg_virtiofs_socket,
                .shared_dir = arg_shared_dir,
                .vcpus = arg_vcpus > 0 ? (unsigned) arg_vcpus : 0,
                .memory_mib = arg_memory > 0 ? (unsigned) arg_memory : 0,
                .host_tsc_khz = accel == KC_ACCEL_TCG ? kc_vm_host_tsc_khz() : 0,
        };
        if (kc_vm_qemu_argv(c, &p, &qemu) < 0)
                return 1;
        for (char **q = qemu; *q; q++) {
                fputs(*q, stdout);
                putchar(arg_null ? '\0' : '\n');
        }
        return fflush(stdout) == 0 ? 0 : 1;
}
