/* kata-conmon: conmon's lifecycle (validate, daemonize, run the monitor, exit command). */
#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "exit-command.h"
#include "exit-files.h"
#include "fd-util.h"
#include "log-journal.h"
#include "log.h"
#include "logging.h"
#include "monitor.h"
#include "oom.h"
#include "sync-pipe.h"
#ifdef KC_WITH_VM_ENGINE
#include "engine-vm.h"
#endif

/* fds we were started with (other than the _OCI_ pipes): the runtime inherits them
 * (--preserve-fds, LISTEN_FDS), and we close them before announcing the exit. */
static GArray *list_inherited_fds(void) {
        GArray *fds = g_array_new(FALSE, FALSE, sizeof(int));
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;

        if (!d)
                return fds;
        while ((de = readdir(d))) {
                int fd = parse_fd(de->d_name);
                if (fd >= 3 && fd != dirfd(d))
                        g_array_append_val(fds, fd);
        }
        closedir(d);
        return fds;
}

static void drop_fd(GArray *fds, int fd) {
        for (guint i = 0; i < fds->len; i++)
                if (g_array_index(fds, int, i) == fd) {
                        g_array_remove_index(fds, i);
                        return;
                }
}

static void print_log_error(const char *msg) {
        fprintf(stderr, "%s%s\n", kc_log_error_prefix(msg), msg);
}

/* Reaps what has already exited. Never blocks: a daemon an exec session left behind was
 * reparented to us (subreaper) and must not keep us, and so the caller, waiting. */
static void reap_all(void) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

static int open_logs(const KcOptions *o, KcLogSet **ret) {
        KcLogOptions lo = {
                .log_paths = o->log_paths,
                .cid = o->cid,
                .name = o->name,
                .tag = o->log_tag,
                .labels = o->log_labels,
                .size_max = o->log_size_max,
                .global_size_max = o->log_global_size_max,
                .rotate = o->log_rotate,
                .max_files = o->log_max_files,
                .allowlist_dirs = o->log_allowlist_dirs,
                .no_partial_message = o->no_container_partial_message,
                .no_sync = o->no_sync_log,
        };
        g_autofree char *err = NULL;
        int r;

        if (!o->log_paths || !o->log_paths[0]) {
                print_log_error("Log driver not provided. Use --log-path");
                return -EINVAL;
        }
        r = kc_log_open(&lo, ret, &err);
        if (r < 0) {
                print_log_error(err ? err : "Failed to open log file");
                return r;
        }
        return 0;
}

/* --syslog without journald: conmon's "<cid:20> <level>: message" records. */
static void syslog_sink(const KcLogRecord *rec, void *userdata) {
        const char *cid = userdata;
        const char *level = rec->priority <= LOG_ERR       ? "e"
                            : rec->priority == LOG_WARNING ? "w"
                            : rec->priority <= LOG_INFO    ? "i"
                                                           : "d";

        syslog(rec->priority, "%.20s %s: %s", cid, level, rec->message);
}

static void log_set_freep(KcLogSet **set) {
        if (*set)
                kc_log_free(*set);
}

#ifndef KC_WITH_VM_ENGINE
#define KC_VM_MONITOR_NAME "kata-conmon-vm"

/* The VM engine is a sibling binary (installed next to us): exec it with our argv. */
static int exec_vm_monitor(char **argv) {
        g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
        g_autofree char *dir = NULL, *path = NULL;

        if (!self)
                return -errno;
        dir = g_path_get_dirname(self);
        path = g_build_filename(dir, KC_VM_MONITOR_NAME, NULL);
        execv(path, argv);
        return -errno;
}
#endif

int main(int argc, char **argv) {
        _cleanup_(kc_options_clear) KcOptions o = {};
        g_autofree char *error = NULL;
        g_autofree char *cwd = NULL, *bundle = NULL, *pidfile = NULL;
        g_autoptr(GArray) inherited = NULL;
        _cleanup_(log_set_freep) KcLogSet *logs = NULL;
        KcMonitor *m = NULL;
        int sync_fd, start_fd, attach_fd, old_adj = INT_MIN, r, exit_code;
        pid_t caller_pid = getppid();

        inherited = list_inherited_fds();
        setlocale(LC_ALL, "");
        umask(022);

        if (kc_cli_parse(argc, argv, &o, &error) < 0) {
                fprintf(stderr, "conmon: option parsing failed: %s\n", error);
                return 1;
        }
        if (o.help) {
                kc_cli_print_help(stdout);
                return 0;
        }
        if (o.version) {
                kc_cli_print_version(stdout);
                return 0;
        }
        if (kc_cli_validate(&o, &error) < 0) {
                fprintf(stderr, "%s\n", error);
                return 1;
        }

#ifndef KC_WITH_VM_ENGINE
        if (kc_engine_vm_selected(&o)) {
                /* Same argv, same inherited fds and environment: nothing has happened yet. */
                r = exec_vm_monitor(argv);
                fprintf(stderr, "[conmon:e]: Failed to run the VM monitor %s: %s\n", KC_VM_MONITOR_NAME,
                        g_strerror(-r));
                return 1;
        }
#endif

        kc_log_set_ident("kata-conmon");
        kc_log_set_level(o.log_level ? kc_log_parse_level(o.log_level) : LOG_WARNING);
        kc_log_set_field("CONTAINER_ID_FULL", o.cid);
        if (!kc_log_journal_install(true) && o.syslog) {
                openlog("kata-conmon", LOG_PID, LOG_DAEMON);
                kc_log_set_sink(syslog_sink, o.cid);
                kc_log_set_stderr(true);
        }

        if (o.exec_attach && !getenv("_OCI_ATTACHPIPE")) {
                fprintf(stderr, "[conmon:e] --attach specified but _OCI_ATTACHPIPE was not\n");
                return 1;
        }

        cwd = g_get_current_dir();
        if (o.bundle)
                bundle = g_strdup(o.bundle);
        else if (!o.exec)
                bundle = g_strdup(cwd);
        pidfile = o.container_pidfile ? g_strdup(o.container_pidfile)
                                      : g_strdup_printf("%s/pidfile-%s", cwd, o.cid);

        if (open_logs(&o, &logs) < 0)
                return 1;
        bool passthrough = kc_log_is_passthrough(logs);

        r = kc_oom_score_adj_set(-1000, &old_adj);
        if (r < 0)
                log_debug_errno(r, "Failed to set our oom_score_adj to -1000: %m");
        signal(SIGPIPE, SIG_IGN);

        sync_fd = kc_sync_fd_from_env("_OCI_SYNCPIPE");
        start_fd = kc_sync_fd_from_env("_OCI_STARTPIPE");
        attach_fd = kc_sync_fd_from_env("_OCI_ATTACHPIPE");
        if (sync_fd == -EINVAL || start_fd == -EINVAL || attach_fd == -EINVAL) {
                fprintf(stderr, "[conmon:e] Invalid _OCI_SYNCPIPE, _OCI_STARTPIPE or _OCI_ATTACHPIPE\n");
                return 1;
        }
        drop_fd(inherited, sync_fd);
        drop_fd(inherited, start_fd);
        drop_fd(inherited, attach_fd);

        if (start_fd >= 0) {
                /* The caller moves us into a cgroup, then lets us go on. Read whatever it wrote
                 * (conmon's tests write a whole line) so the exec-attach read that may follow
                 * waits for a second write instead of finding leftovers. */
                char buf[256];
                ssize_t n;
                do
                        n = read(start_fd, buf, sizeof(buf));
                while (n < 0 && errno == EINTR);
                if (n < 0) {
                        fprintf(stderr, "[conmon:e]: Failed to read from the start pipe %s\n",
                                g_strerror(errno));
                        return 1;
                }
        }

        if (!o.sync) {
                pid_t pid = fork();
                if (pid < 0) {
                        fprintf(stderr, "[conmon:e]: Failed to fork %s\n", g_strerror(errno));
                        return 1;
                }
                if (pid > 0) {
                        if (o.conmon_pidfile && kc_pidfile_write(o.conmon_pidfile, pid) < 0)
                                _exit(1);
                        _exit(0);
                }
        }

        if (!passthrough)
                (void) redirect_stdio_to_null();
        (void) setsid();
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                log_warning_errno(errno, "Failed to become a subreaper: %m");

        KcMonitorParams mp = {
                .opts = &o,
                .logs = logs,
                .bundle = bundle,
                .pidfile = pidfile,
                .passthrough = passthrough,
                .sync_fd = sync_fd >= 0 ? sync_fd : -1,
                .attach_pipe_fd = attach_fd >= 0 ? attach_fd : -1,
                .start_fd = start_fd >= 0 ? start_fd : -1,
                .caller_pid = caller_pid,
                .oom_score_adj = old_adj,
                .inherited_fds = (const int *) (void *) inherited->data,
                .n_inherited_fds = inherited->len,
#ifdef KC_WITH_VM_ENGINE
                .engine_new = kc_engine_vm_selected(&o) ? kc_engine_vm_new : NULL,
#endif
        };
        kc_monitor_new(&mp, &m);
        exit_code = kc_monitor_run(m);
        bool runtime_started = kc_monitor_runtime_started(m);
        kc_monitor_free(m);
        g_clear_pointer(&logs, kc_log_free);
        safe_close(start_fd);

        if (o.exit_command && runtime_started) {
                pid_t pid;

                (void) prctl(PR_SET_CHILD_SUBREAPER, 0);
                pid = kc_exit_command_spawn(&o, old_adj);
                if (pid > 0) {
                        int st;
                        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                                ;
                        if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
                                log_warning("Exit command failed with status %d", WEXITSTATUS(st));
                                exit_code = WEXITSTATUS(st);
                        }
                }
        }
        reap_all();
        return exit_code;
}
