/* The monitor's command-line options (conmon's option set), filled by cli.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct KcOptions {
        bool api_version;
        char *bundle;
        char *cid;
        char *cuuid;
        char *runtime;
        char *container_pidfile;
        char *conmon_pidfile;
        char *name;
        char **log_paths;
        char *log_level;
        bool syslog;
        int64_t log_size_max;
        int64_t log_global_size_max;
        char *log_tag;
        char **log_labels;
        bool no_container_partial_message;
        bool log_rotate;
        int log_max_files;
        char **log_allowlist_dirs;
        bool no_sync_log;
        char *exit_dir;
        char *persist_dir;
        char *socket_dir_path;
        bool full_attach;
        bool terminal;
        bool stdin_;
        bool leave_stdin_open;
        bool exec;
        char *exec_process_spec;
        bool exec_attach;
        int timeout;
        bool sync;
        bool systemd_cgroup;
        char **runtime_args;
        char **runtime_opts;
        char *restore;
        bool no_pivot;
        bool no_new_keyring;
        char *exit_command;
        char **exit_command_args;
        int exit_delay;
        char *sdnotify_socket;
        bool replace_listen_pid;
        char *seccomp_notify_socket;
        char *seccomp_notify_plugins;
        bool version;
        bool help;
} KcOptions;

#define KC_DEFAULT_SOCKET_DIR "/var/run/crio"
