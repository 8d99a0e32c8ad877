/* Builds virtiofsd's argv and forks QEMU and virtiofsd with exactly the fds they need. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "macro.h"
#include "log.h"
#include "selinux-exec.h"
#include "vm-launch.h"

static void add(GPtrArray *a, const char *s) {
        g_ptr_array_add(a, g_strdup(s));
}

static void addf(GPtrArray *a, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void addf(GPtrArray *a, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        g_ptr_array_add(a, g_strdup_vprintf(format, ap));
        va_end(ap);
}

char **kc_vm_virtiofsd_argv(const KcVmConfig *c, const char *shared_dir) {
        GPtrArray *a = g_ptr_array_new();
        const char *path = c->virtio_fs_daemon, *cache = c->virtio_fs_cache ? c->virtio_fs_cache : "auto";

        add(a, path);
        addf(a, "--fd=%d", KC_VM_FD_VFS_LISTEN);
        if (g_str_has_suffix(path, "/qemu/virtiofsd")) {
                /* QEMU's C daemon (Debian). */
                add(a, "-o");
                addf(a, "source=%s", shared_dir);
                add(a, "-o");
                /* The C daemon calls "never" "none". */
                addf(a, "cache=%s", strcmp(cache, "never") == 0 ? "none" : cache);
                add(a, "-o");
                add(a, "announce_submounts");
                add(a, "-o");
                add(a, "log_level=warn");
        } else {
                /* The Rust daemon (RHEL 9, RHCOS). */
                addf(a, "--shared-dir=%s", shared_dir);
                addf(a, "--cache=%s", cache);
                add(a, "--announce-submounts");
                add(a, "--log-level=warn");
        }
        for (char **x = c->virtio_fs_extra_args; x && *x; x++)
                add(a, *x);
        g_ptr_array_add(a, NULL);
        return (char **) g_ptr_array_free(a, false);
}

static _noreturn_ void child(char **argv, const int *fds, size_t n_fds, int out_fd, const char *exec_label,
                             const KcReaper *reaper, pid_t parent) {
        int high[8], devnull;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
        kc_reaper_child_reset(reaper);
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0 || n_fds > G_N_ELEMENTS(high))
                _exit(127);
        /* Move everything out of the way first: targets 0..2+n may overlap the sources. */
        for (size_t i = 0; i < n_fds; i++) {
                high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 100);
                if (high[i] < 0)
                        _exit(127);
        }
        if (out_fd >= 0)
                out_fd = fcntl(out_fd, F_DUPFD_CLOEXEC, 100);
        if (dup2(devnull, 0) < 0 || dup2(out_fd >= 0 ? out_fd : devnull, 1) < 0 ||
            dup2(out_fd >= 0 ? out_fd : devnull, 2) < 0)
                _exit(127);
        for (size_t i = 0; i < n_fds; i++)
                if (dup2(high[i], 3 + (int) i) < 0)
                        _exit(127);
        /* dup2 clears FD_CLOEXEC on the targets; everything else is closed. */
        (void) close_range(3 + (unsigned) n_fds, ~0U, 0);
        int r = kc_selinux_set_exec_label(exec_label);
        if (r < 0) {
                fprintf(stderr, "Cannot run %s under SELinux label %s: %s\n", argv[0], exec_label,
                        strerror(-r));
                _exit(127);
        }
        execv(argv[0], argv);
        fprintf(stderr, "Failed to execute %s: %s\n", argv[0], strerror(errno));
        _exit(127);
}

int kc_vm_spawn(char **argv, const int *fds, size_t n_fds, int out_fd, const char *exec_label,
                const KcReaper *reaper, pid_t *ret) {
        pid_t parent = getpid(), pid;

        if (access(argv[0], X_OK) < 0)
                return log_error_errno(errno, "Cannot execute %s: %m", argv[0]);
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork for %s: %m", argv[0]);
        if (pid == 0)
                child(argv, fds, n_fds, out_fd, exec_label, reaper, parent);
        *ret = pid;
        return 0;
}
