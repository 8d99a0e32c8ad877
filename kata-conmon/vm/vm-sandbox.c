/* Starts and tears down a pod VM: S/shared, virtiofsd, QEMU (fds only), console, mux socket. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"
#include "vm-console.h"
#include "vm-launch.h"
#include "vm-mounts.h"
#include "vm-mux.h"
#include "qemu-argv.h"
#include "selinux-exec.h"
#include "vm-sandbox.h"

struct KcVmSandbox {
        KcReaper *reaper;
        char *id, *dir, *shared, *vm_label;
        bool shared_mounted;
        pid_t qemu_pid, virtiofsd_pid;
        KcVmConsole *console, *qemu_err, *vfs_err;
        KcMux *mux;
        KcVmNetwork *net;
        guint kill_timer;
        KcVmSandboxGoneFunc gone;
        void *userdata;
        bool gone_reported;
        bool stopping; /* the VM is being destroyed: its parts going away is expected */
};

static void report_gone(KcVmSandbox *sb, int wait_status) {
        if (sb->gone_reported)
                return;
        sb->gone_reported = true;
        if (sb->gone)
                sb->gone(wait_status, sb->userdata);
}

static void on_qemu_exit(pid_t pid, int wait_status, void *userdata) {
        KcVmSandbox *sb = userdata;

        sb->qemu_pid = 0;
        if (sb->kill_timer) {
                g_source_remove(sb->kill_timer);
                sb->kill_timer = 0;
        }
        kc_vm_console_drain(sb->console);
        kc_vm_console_drain(sb->qemu_err);
        if (WIFEXITED(wait_status))
                log_info("QEMU exited with status %d", WEXITSTATUS(wait_status));
        else
                log_info("QEMU was killed by signal %d", WTERMSIG(wait_status));
        if (sb->virtiofsd_pid > 0)
                (void) kill(sb->virtiofsd_pid, SIGTERM);
        report_gone(sb, wait_status);
}

static void on_virtiofsd_exit(pid_t pid, int wait_status, void *userdata) {
        KcVmSandbox *sb = userdata;

        sb->virtiofsd_pid = 0;
        kc_vm_console_drain(sb->vfs_err);
        if (sb->qemu_pid > 0 && !sb->stopping) {
                log_error("virtiofsd exited while the VM runs: stopping the VM");
                (void) kill(sb->qemu_pid, SIGKILL);
        }
}

static void on_channel_closed(int error, void *userdata) {
        KcVmSandbox *sb = userdata;

        if (sb->qemu_pid > 0 && !sb->stopping) {
                log_error("The agent channel closed (%s): stopping the VM", g_strerror(-error));
                (void) kill(sb->qemu_pid, SIGKILL);
        }
}

static int pipe_for_output(int *ret_read, int *ret_write) {
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        *ret_read = p[0];
        *ret_write = p[1];
        return 0;
}

static int write_pid(const char *dir, const char *name, pid_t pid) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d", (int) pid);

        return write_file_atomic(path, buf, (size_t) n, 0600, false);
}

static int listen_unix(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -EBADF;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static int start_virtiofsd(KcVmSandbox *sb, const KcVmConfig *c, const char *sock, char **ret_error) {
        g_auto(GStrv) argv = kc_vm_virtiofsd_argv(c, sb->shared);
        _cleanup_close_ int lfd = -EBADF, err_r = -EBADF, err_w = -EBADF;
        int r;

        /* virtiofsd serves on this socket and QEMU connects to it: both run as the VM's label, so
         * the socket carries it too (no-op without SELinux). */
        r = kc_selinux_set_sockcreate_label(sb->vm_label);
        if (r < 0) {
                *ret_error = g_strdup_printf("cannot label the virtiofsd socket %s: %s", sb->vm_label,
                                             g_strerror(-r));
                return r;
        }
        lfd = listen_unix(sock);
        (void) kc_selinux_set_sockcreate_label(NULL);
        if (lfd < 0) {
                *ret_error = g_strdup_printf("cannot listen on %s: %s", sock, g_strerror(-lfd));
                return lfd;
        }
        /* Listening before virtiofsd runs: QEMU's connection waits in the backlog, no race. */
        r = pipe_for_output(&err_r, &err_w);
        if (r < 0)
                return r;
        r = kc_vm_spawn(argv, &lfd, 1, err_w, sb->vm_label, sb->reaper, &sb->virtiofsd_pid);
        if (r < 0) {
                *ret_error = g_strdup_printf("cannot start virtiofsd %s: %s", c->virtio_fs_daemon,
                                             g_strerror(-r));
                return r;
        }
        kc_reaper_watch(sb->reaper, sb->virtiofsd_pid, on_virtiofsd_exit, sb);
        sb->vfs_err = kc_vm_console_new(TAKE_FD(err_r), "virtiofsd");
        (void) write_pid(sb->dir, "virtiofsd.pid", sb->virtiofsd_pid);
        return 0;
}

/* On a KVM internal error (e.g. an instruction the host's KVM cannot emulate) QEMU stops the
 * guest but keeps running, so the pod would hang until the start timeout or forever: treat it as
 * the VM's death. Killing QEMU takes the usual exit path, whose message carries these lines. */
static void on_qemu_stderr_line(const char *line, void *userdata) {
        KcVmSandbox *sb = userdata;

        if (!strstr(line, "KVM internal error") || sb->qemu_pid <= 0)
                return;
        log_error("QEMU reports a KVM internal error: the VM cannot run on this host's KVM; stopping it "
                  "(set accel=tcg in [hypervisor.qemu] where KVM is unusable)");
        (void) kill(sb->qemu_pid, SIGKILL);
}

/* vhost-user devices (virtiofsd) refuse legacy virtio, which is microvm's virtio-mmio default. */
static void ensure_modern_virtio_mmio(const KcVmConfig *c, char ***argv) {
        GPtrArray *a;

        if (c->machine_type != KC_MACHINE_MICROVM || c->shared_fs != KC_SHARED_FS_VIRTIO_FS)
                return;
        for (char **x = *argv; *x; x++)
                if (strstr(*x, "virtio-mmio.force-legacy"))
                        return;
        a = g_ptr_array_new();
        g_ptr_array_add(a, (*argv)[0]);
        g_ptr_array_add(a, g_strdup("-global"));
        g_ptr_array_add(a, g_strdup("virtio-mmio.force-legacy=false"));
        for (char **x = *argv + 1; *x; x++)
                g_ptr_array_add(a, *x);
        g_ptr_array_add(a, NULL);
        g_free(*argv);
        *argv = (char **) g_ptr_array_free(a, false);
}

static int start_qemu(KcVmSandbox *sb, const KcVmConfig *c, const char *vfs_sock, char **ret_error) {
        g_auto(GStrv) argv = NULL;
        int chan[2] = {-1, -1}, con[2] = {-1, -1}, err_r = -1, err_w = -1;
        size_t n_nics = kc_vm_network_count(sb->net);
        KcVmNic nics[KC_VM_MAX_NICS];
        int fds[2 + KC_VM_MAX_NICS];
        KcVmParams params = {
                .sandbox_id = sb->id,
                .accel = kc_vm_resolve_accel(c->accel,
                                             c->accel == KC_ACCEL_AUTO ? kc_vm_kvm_usable() : false),
                .agent = {.fd = KC_VM_FD_CHANNEL},
                .console = {.fd = KC_VM_FD_CONSOLE},
                .qmp = KC_VM_ENDPOINT_NONE,
                .virtio_fs_socket = vfs_sock,
                .shared_dir = sb->shared,
                .nics = nics,
                .n_nics = n_nics,
        };
        int r;

        if (n_nics > KC_VM_MAX_NICS) {
                *ret_error = g_strdup_printf("the pod has %zu interfaces, at most %d are supported", n_nics,
                                             KC_VM_MAX_NICS);
                return -E2BIG;
        }
        /* The taps follow the agent channel and the console: fds 5, 6, ... in QEMU. */
        for (size_t i = 0; i < n_nics; i++)
                nics[i] = (KcVmNic){.tap_fd = KC_VM_FD_CONSOLE + 1 + (int) i,
                                    .mac = kc_vm_network_mac(sb->net, i)};

        if (params.accel == KC_ACCEL_TCG)
                params.host_tsc_khz = kc_vm_host_tsc_khz();
        r = kc_vm_qemu_argv(c, &params, &argv);
        if (r < 0) {
                *ret_error =
                        g_strdup_printf("invalid VM configuration for sandbox %s (see the log)", sb->id);
                return r;
        }
        ensure_modern_virtio_mmio(c, &argv);
        if (access(c->kernel, R_OK) < 0) {
                *ret_error = g_strdup_printf("guest kernel %s: %s", c->kernel, g_strerror(errno));
                return -ENOENT;
        }
        if (access(c->initrd, R_OK) < 0) {
                *ret_error = g_strdup_printf("guest initrd %s: %s", c->initrd, g_strerror(errno));
                return -ENOENT;
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, con) < 0 ||
            pipe_for_output(&err_r, &err_w) < 0) {
                r = -errno;
                goto fail;
        }
        if (kc_log_get_level() >= LOG_DEBUG) {
                g_autofree char *joined = g_strjoinv(" ", argv);
                log_debug("Running %s", joined);
        }
        fds[0] = chan[1];
        fds[1] = con[1];
        for (size_t i = 0; i < n_nics; i++)
                fds[2 + i] = kc_vm_network_tap_fd(sb->net, i);
        r = kc_vm_spawn(argv, fds, 2 + n_nics, err_w, sb->vm_label, sb->reaper, &sb->qemu_pid);
        if (r < 0) {
                *ret_error = g_strdup_printf("cannot start QEMU %s: %s", c->qemu_path, g_strerror(-r));
                goto fail;
        }
        safe_close(chan[1]);
        safe_close(con[1]);
        safe_close(err_w);
        /* QEMU holds the taps now: they vanish when it exits. */
        kc_vm_network_close_taps(sb->net);
        kc_reaper_watch(sb->reaper, sb->qemu_pid, on_qemu_exit, sb);
        sb->console = kc_vm_console_new(con[0], "guest");
        sb->qemu_err = kc_vm_console_new(err_r, "qemu");
        kc_vm_console_set_line_func(sb->qemu_err, on_qemu_stderr_line, sb);
        (void) write_pid(sb->dir, "qemu.pid", sb->qemu_pid);
        return kc_mux_new(chan[0], on_channel_closed, sb, &sb->mux);
fail:
        safe_close(chan[0]);
        safe_close(chan[1]);
        safe_close(con[0]);
        safe_close(con[1]);
        safe_close(err_r);
        safe_close(err_w);
        if (!*ret_error)
                *ret_error = g_strdup_printf("cannot start QEMU: %s", g_strerror(-r));
        return r;
}

int kc_vm_sandbox_start(const char *sandbox_id, const char *sandbox_dir, const KcVmConfig *c,
                        const char *vm_label, KcVmNetwork *net, KcReaper *reaper, KcVmSandboxGoneFunc gone,
                        void *userdata, KcVmSandbox **ret, char **ret_error) {
        KcVmSandbox *sb;
        g_autofree char *mux_path = NULL, *vfs_sock = NULL;
        int r;

        *ret_error = NULL;
        g_autofree char *parent = g_path_get_dirname(sandbox_dir);
        r = mkdir_p(parent, 0711);
        if (r < 0) {
                kc_vm_network_free(net);
                *ret_error = g_strdup_printf("cannot create %s: %s", parent, g_strerror(-r));
                return r;
        }
        if (mkdir(sandbox_dir, 0700) < 0) {
                r = -errno;
                kc_vm_network_free(net);
                *ret_error = r == -EEXIST ? g_strdup_printf("sandbox %s already exists", sandbox_id)
                                          : g_strdup_printf("cannot create %s: %s", sandbox_dir,
                                                            g_strerror(errno));
                return r;
        }
        sb = g_new0(KcVmSandbox, 1);
        sb->reaper = reaper;
        sb->id = g_strdup(sandbox_id);
        sb->dir = g_strdup(sandbox_dir);
        sb->shared = g_build_filename(sandbox_dir, "shared", NULL);
        sb->vm_label = g_strdup(vm_label);
        sb->net = net;
        sb->gone = gone;
        sb->userdata = userdata;

        r = kc_vm_shared_setup(sb->shared);
        if (r < 0) {
                *ret_error = g_strdup_printf("cannot set up %s: %s", sb->shared, g_strerror(-r));
                goto fail;
        }
        vfs_sock = g_build_filename(sandbox_dir, "vfs.sock", NULL);
        if (c->shared_fs == KC_SHARED_FS_VIRTIO_FS) {
                r = start_virtiofsd(sb, c, vfs_sock, ret_error);
                if (r < 0)
                        goto fail;
        }
        r = start_qemu(sb, c, vfs_sock, ret_error);
        if (r < 0)
                goto fail;
        mux_path = g_build_filename(sandbox_dir, "mux.sock", NULL);
        r = kc_mux_listen(sb->mux, mux_path);
        if (r < 0) {
                *ret_error = g_strdup_printf("cannot serve %s: %s", mux_path, g_strerror(-r));
                goto fail;
        }
        *ret = sb;
        return 0;
fail:
        sb->gone = NULL;
        kc_vm_sandbox_free(sb);
        return r;
}

const char *kc_vm_sandbox_shared_dir(KcVmSandbox *sb) {
        return sb->shared;
}

pid_t kc_vm_sandbox_qemu_pid(KcVmSandbox *sb) {
        return sb->qemu_pid;
}

const KcVmNetwork *kc_vm_sandbox_network(KcVmSandbox *sb) {
        return sb->net;
}

int kc_vm_sandbox_connect(KcVmSandbox *sb) {
        int p[2], r;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
                return -errno;
        r = kc_mux_add_client(sb->mux, p[0], true);
        if (r < 0) {
                close(p[1]);
                return r;
        }
        return p[1];
}

char *kc_vm_sandbox_diagnostics(KcVmSandbox *sb) {
        kc_vm_console_drain(sb->qemu_err);
        kc_vm_console_drain(sb->vfs_err);
        kc_vm_console_drain(sb->console);
        /* virtiofsd's complaint explains a VM that cannot start its shared filesystem. */
        const char *q = kc_vm_console_tail(sb->qemu_err), *v = kc_vm_console_tail(sb->vfs_err),
                   *c = kc_vm_console_tail(sb->console);
        return g_strdup_printf("%s%s%s", q, v, c);
}

static gboolean on_kill_timer(gpointer userdata) {
        KcVmSandbox *sb = userdata;

        sb->kill_timer = 0;
        if (sb->qemu_pid > 0) {
                log_warning("The VM did not power off in time: killing QEMU");
                (void) kill(sb->qemu_pid, SIGKILL);
        }
        return G_SOURCE_REMOVE;
}

void kc_vm_sandbox_stop(KcVmSandbox *sb, unsigned timeout_ms) {
        sb->stopping = true;
        if (sb->qemu_pid <= 0 || sb->kill_timer)
                return;
        if (timeout_ms == 0)
                (void) kill(sb->qemu_pid, SIGKILL);
        else
                sb->kill_timer = g_timeout_add(timeout_ms, on_kill_timer, sb);
}

static void kill_and_reap(KcReaper *reaper, pid_t *pid) {
        if (*pid <= 0)
                return;
        kc_reaper_unwatch(reaper, *pid);
        (void) kill(*pid, SIGKILL);
        (void) waitpid(*pid, NULL, 0);
        *pid = 0;
}

void kc_vm_sandbox_free(KcVmSandbox *sb) {
        if (!sb)
                return;
        if (sb->kill_timer)
                g_source_remove(sb->kill_timer);
        kill_and_reap(sb->reaper, &sb->qemu_pid);
        kc_mux_free(sb->mux);
        /* virtiofsd gets a moment to exit on its own (it saw QEMU go), then SIGKILL. */
        if (sb->virtiofsd_pid > 0) {
                (void) kill(sb->virtiofsd_pid, SIGTERM);
                for (int i = 0; i < 50; i++) {
                        if (waitpid(sb->virtiofsd_pid, NULL, WNOHANG) == sb->virtiofsd_pid) {
                                kc_reaper_unwatch(sb->reaper, sb->virtiofsd_pid);
                                sb->virtiofsd_pid = 0;
                                break;
                        }
                        g_usleep(10000);
                }
                kill_and_reap(sb->reaper, &sb->virtiofsd_pid);
        }
        kc_vm_console_free(sb->console);
        kc_vm_console_free(sb->qemu_err);
        kc_vm_console_free(sb->vfs_err);
        kc_vm_network_free(sb->net);
        (void) kc_vm_sandbox_dir_remove(sb->dir);
        g_free(sb->id);
        g_free(sb->dir);
        g_free(sb->shared);
        g_free(sb->vm_label);
        g_free(sb);
}
