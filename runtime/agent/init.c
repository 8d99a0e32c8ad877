/* kata-agent: PID 1 duties: early mounts, console, kernel modules, finding the agent port, power-off. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

static int do_mount(const char *src, const char *dst, const char *type, unsigned long flags,
                    const char *data) {
        (void) mkdir_p(dst, 0755);
        if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
                return log_warning_errno(errno, "Cannot mount %s on %s: %m", type, dst);
        return 0;
}

/* stdout/stderr to the kernel console, stdin from /dev/null. */
static void setup_console(void) {
        int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (null_fd >= 0)
                (void) dup2(null_fd, 0);
        if (fd >= 0) {
                (void) dup2(fd, 1);
                (void) dup2(fd, 2);
        }
        safe_close(fd);
        safe_close(null_fd);
}

int init_setup(void) {
        const unsigned long nsd = MS_NOSUID | MS_NODEV | MS_NOEXEC;

        do_mount("proc", "/proc", "proc", nsd, NULL);
        do_mount("sysfs", "/sys", "sysfs", nsd, NULL);
        do_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
        setup_console();
        do_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620");
        (void) unlink("/dev/ptmx");
        (void) symlink("pts/ptmx", "/dev/ptmx");
        do_mount("shm", "/dev/shm", "tmpfs", nsd, "mode=1777");
        do_mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
        do_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
        do_mount("cgroup2", "/sys/fs/cgroup", "cgroup2", nsd, NULL);
        /* Containers live in child cgroups: hand the controllers down from the root. */
        {
                int fd = open("/sys/fs/cgroup/cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        static const char *const ctl[] = {"+cpu", "+memory", "+pids", "+io", "+cpuset"};
                        for (size_t i = 0; i < ELEMENTSOF(ctl); i++)
                                (void) write(fd, ctl[i], strlen(ctl[i]));
                        safe_close(fd);
                }
        }
        if (init_cmdline_has("agent.log=debug"))
                kc_log_set_level(LOG_DEBUG);
        return 0;
}

/* Whether the kernel command line holds this exact word. */
bool init_cmdline_has(const char *word) {
        _cleanup_free_ char *cmdline = NULL;
        g_auto(GStrv) words = NULL;

        if (read_file_bounded("/proc/cmdline", 65536, &cmdline, NULL) < 0)
                return false;
        words = g_strsplit_set(g_strstrip(cmdline), " \t", -1);
        return g_strv_contains((const char *const *) words, word);
}

/* crun guards against CVE-2019-5736 (a container process overwriting the runtime's binary through
 * /proc/self/exe) by re-executing itself from a read-only copy, unless its binary already lies on a
 * read-only mount. Giving it that mount once, here, keeps the same protection and spares every crun
 * call the second exec and dynamic link; under TCG it also lets the guest reuse the translated code
 * of the one binary instead of translating a fresh copy per call. */
int init_protect_runtime(const char *path) {
        if (mount(path, path, NULL, MS_BIND, NULL) < 0)
                return log_warning_errno(errno, "Cannot bind-mount %s onto itself: %m", path);
        if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV | MS_NOSUID, NULL) < 0) {
                int r = log_warning_errno(errno, "Cannot make %s read-only: %m", path);
                (void) umount2(path, MNT_DETACH);
                return r;
        }
        return 0;
}

/* /sys/class/virtio-ports/vportNpM/name holds the port's name; the device is /dev/vportNpM. */
static int find_port_once(const char *name) {
        _cleanup_(closedirp) DIR *d = opendir("/sys/class/virtio-ports");
        struct dirent *de;

        if (!d)
                return -ENOENT;
        while ((de = readdir(d))) {
                g_autofree char *path = NULL, *content = NULL, *dev = NULL;

                if (de->d_name[0] == '.')
                        continue;
                path = g_strdup_printf("/sys/class/virtio-ports/%s/name", de->d_name);
                if (read_file_bounded(path, 256, &content, NULL) < 0)
                        continue;
                g_strstrip(content);
                if (strcmp(content, name) != 0)
                        continue;
                dev = g_strdup_printf("/dev/%s", de->d_name);
                int fd = open(dev, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
                if (fd < 0)
                        return -errno;
                log_info("Agent channel %s is %s (uptime %.3f s)", name, dev, init_uptime());
                return fd;
        }
        return -ENOENT;
}

int init_find_channel(const char *name, int timeout_ms) {
        int64_t deadline = g_get_monotonic_time() + (int64_t) timeout_ms * 1000;

        for (;;) {
                int fd = find_port_once(name);
                if (fd >= 0 || fd != -ENOENT)
                        return fd;
                /* Not there yet: load the next module (the list starts with the virtio transport and
                 * console drivers), or once all are loaded wait for the port to be announced. */
                if (modules_load_next())
                        continue;
                if (g_get_monotonic_time() > deadline)
                        return log_error_errno(ENOENT, "No virtio port named %s: %m", name);
                g_usleep(5000);
        }
}

/* Whether / is the kernel's initramfs mount itself, which pivot_root(2) cannot leave: in
 * /proc/self/mountinfo that mount is its own parent. A stage-0 init that moved a bind mount of the
 * initramfs over / gives it a parent, and crun can pivot_root normally. */
bool init_root_is_initramfs(void) {
        _cleanup_free_ char *text = NULL;
        g_auto(GStrv) lines = NULL;
        bool result = false;

        if (read_file_bounded("/proc/self/mountinfo", 1024 * 1024, &text, NULL) < 0)
                return true; /* cannot tell: the safe choice still works */
        lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
                g_auto(GStrv) f = g_strsplit(*l, " ", 6);
                if (g_strv_length(f) < 6 || strcmp(f[4], "/") != 0)
                        continue;
                /* The last entry for / is the visible one. */
                result = strcmp(f[0], f[1]) == 0;
        }
        return result;
}

double init_uptime(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                return 0;
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void init_poweroff(void) {
        sync();
        (void) reboot(RB_POWER_OFF);
        /* PID 1 must not exit: that panics the kernel. */
        for (;;)
                pause();
}
