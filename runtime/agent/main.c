/* kata-agent: entry point: PID 1 in the guest, or host mode (--channel-fd) for tests without a VM. */
#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"

static gboolean on_sigchld(int fd, GIOCondition cond, gpointer userdata) {
        struct signalfd_siginfo si;

        while (read(fd, &si, sizeof si) == sizeof si)
                ;
        agent_reap(userdata);
        return G_SOURCE_CONTINUE;
}

static gboolean on_terminate(gpointer userdata) {
        Agent *a = userdata;

        log_info("Terminating: removing every container");
        agent_remove_all_containers(a);
        g_main_loop_quit(a->loop);
        return G_SOURCE_REMOVE;
}

static gboolean on_oom_timer(gpointer userdata) {
        agent_check_oom(userdata);
        return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv) {
        g_autofree char *runtime = NULL, *runtime_root = NULL, *shared_dir = NULL, *state_dir = NULL,
                        *cgroup_root = NULL, *log_level = NULL;
        g_auto(GStrv) runtime_args = NULL;
        gboolean no_init = false, version = false;
        int channel_fd = -1, sfd, r;
        Agent agent = {};
        sigset_t mask;
        GOptionEntry entries[] = {
                {"channel-fd", 0, 0, G_OPTION_ARG_INT, &channel_fd,
                 "Serve the protocol on this fd (host mode)", "N"},
                {"no-init", 0, 0, G_OPTION_ARG_NONE, &no_init, "Not PID 1: no mounts, modules, power-off",
                 NULL},
                {"runtime", 0, 0, G_OPTION_ARG_FILENAME, &runtime, "OCI runtime (default /usr/bin/crun)",
                 "PATH"},
                {"runtime-root", 0, 0, G_OPTION_ARG_FILENAME, &runtime_root, "The runtime's --root", "DIR"},
                {"runtime-arg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &runtime_args,
                 "Extra global runtime argument", "ARG"},
                {"shared-dir", 0, 0, G_OPTION_ARG_FILENAME, &shared_dir,
                 "Shared directory (container rootfs)", "DIR"},
                {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir, "Bundles and sockets", "DIR"},
                {"cgroup-root", 0, 0, G_OPTION_ARG_FILENAME, &cgroup_root, "cgroup2 mount (stats, OOM)",
                 "DIR"},
                {"log-level", 0, 0, G_OPTION_ARG_STRING, &log_level, "error, warning, info, debug", "LEVEL"},
                {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
                {},
        };

        kc_log_set_ident("kata-agent");
        kc_log_set_level(LOG_INFO);
        agent.init_mode = getpid() == 1;
        if (!agent.init_mode) {
                /* As PID 1 the kernel passes unknown boot parameters as arguments: ignore them. */
                g_autoptr(GOptionContext) ctx = g_option_context_new("- kata-conmon guest agent");
                g_autoptr(GError) error = NULL;

                g_option_context_add_main_entries(ctx, entries, NULL);
                if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                        fprintf(stderr, "kata-agent: %s\n", error->message);
                        return 2;
                }
                if (version) {
                        printf("kata-agent %s (protocol %d, commit %s)\n", PACKAGE_VERSION,
                               KC_PROTOCOL_VERSION, GIT_COMMIT);
                        return 0;
                }
                if (!no_init || channel_fd < 0) {
                        fprintf(stderr, "kata-agent: outside the guest use --no-init --channel-fd N\n");
                        return 2;
                }
                if (log_level) {
                        r = kc_log_parse_level(log_level);
                        if (r < 0) {
                                fprintf(stderr, "kata-agent: unknown log level %s\n", log_level);
                                return 2;
                        }
                        kc_log_set_level(r);
                }
                if (fcntl(channel_fd, F_GETFD) < 0) {
                        fprintf(stderr, "kata-agent: --channel-fd %d is not open\n", channel_fd);
                        return 2;
                }
        }

        agent.runtime = runtime ?: "/usr/bin/crun";
        agent.runtime_root = runtime_root;
        agent.runtime_args = runtime_args;
        agent.shared_dir = shared_dir ?: AGENT_SHARED_DIR;
        agent.state_dir = state_dir ?: AGENT_STATE_DIR;
        agent.cgroup_root = cgroup_root ?: "/sys/fs/cgroup";
        agent.containers = g_hash_table_new(g_str_hash, g_str_equal);
        agent.pids = g_hash_table_new(g_direct_hash, g_direct_equal);
        agent.in_streams = g_hash_table_new(g_direct_hash, g_direct_equal);
        agent.out_streams = g_hash_table_new(g_direct_hash, g_direct_equal);
        agent.runtime_ops = g_hash_table_new(g_direct_hash, g_direct_equal);
        agent.unclaimed = g_hash_table_new(g_direct_hash, g_direct_equal);

        (void) signal(SIGPIPE, SIG_IGN);
        if (agent.init_mode) {
                init_setup();
                (void) init_protect_runtime(agent.runtime);
                agent.runtime_no_aslr = init_cmdline_has("agent.runtime_aslr=off");
                agent.no_pivot = init_root_is_initramfs();
                log_info("kata-agent %s starting as PID 1 (uptime %.3f s)%s", PACKAGE_VERSION, init_uptime(),
                         agent.no_pivot ? ", root is the initramfs: containers use crun --no-pivot" : "");
                /* Loads modules only until the agent port shows up; the rest follow after hello. */
                (void) modules_read(AGENT_MODULES_LIST);
                channel_fd = init_find_channel(AGENT_CHANNEL_NAME, 10000);
                if (channel_fd < 0)
                        init_poweroff();
        } else if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                log_error_errno(errno, "PR_SET_CHILD_SUBREAPER: %m");
                return 1;
        }

        r = mkdir_p(agent.state_dir, 0700);
        if (r < 0) {
                log_error_errno(r, "Cannot create %s: %m", agent.state_dir);
                if (agent.init_mode)
                        init_poweroff();
                return 1;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sfd < 0) {
                log_error_errno(errno, "signalfd: %m");
                if (agent.init_mode)
                        init_poweroff();
                return 1;
        }

        agent.loop = g_main_loop_new(NULL, false);
        g_unix_fd_add(sfd, G_IO_IN, on_sigchld, &agent);
        if (!agent.init_mode) {
                g_unix_signal_add(SIGTERM, on_terminate, &agent);
                g_unix_signal_add(SIGINT, on_terminate, &agent);
        }
        g_timeout_add(1000, on_oom_timer, &agent);
        agent.channel = channel_new(&agent, channel_fd, agent.init_mode);
        agent_reap(&agent);

        g_main_loop_run(agent.loop);

        if (agent.init_mode)
                init_poweroff();
        channel_free(agent.channel);
        safe_close(sfd);
        g_main_loop_unref(agent.loop);
        g_hash_table_destroy(agent.containers);
        g_hash_table_destroy(agent.pids);
        g_hash_table_destroy(agent.in_streams);
        g_hash_table_destroy(agent.out_streams);
        g_hash_table_destroy(agent.runtime_ops);
        g_hash_table_destroy(agent.unclaimed);
        return agent.exit_status;
}
