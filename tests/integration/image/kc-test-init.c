/* A trivial guest /init for image tests and the boot benchmark: prints a marker, optionally loads the
 * image's modules, greets on the agent port, reads a file from the shared filesystem and tries pivot_root,
 * then powers off. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MODULES_LIST "/lib/modules/kata-modules.load"
#define PORT_NAME "agent.channel.0"

static void power_off(void) {
        fflush(stdout);
        sync();
        reboot(RB_POWER_OFF);
        for (;;)
                pause();
}

static int load_modules(void) {
        char line[512];
        int n = 0;
        FILE *f = fopen(MODULES_LIST, "re");

        if (!f) {
                printf("KC-TEST-INIT: cannot open " MODULES_LIST ": %m\n");
                return -1;
        }
        while (fgets(line, sizeof(line), f)) {
                int fd;

                line[strcspn(line, "\n")] = '\0';
                /* "@group" lines name the groups the agent loads on demand; this loads them all. */
                if (line[0] == '\0' || line[0] == '#' || line[0] == '@')
                        continue;
                fd = open(line, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)) {
                        printf("KC-TEST-INIT: module %s failed: %m\n", line);
                        fclose(f);
                        return -1;
                }
                close(fd);
                n++;
        }
        fclose(f);
        printf("KC-TEST-INIT: loaded %d modules\n", n);
        return 0;
}

/* Finds the virtio-serial port by name, as the agent does, and writes a greeting to it. */
static int greet_port(void) {
        for (int tries = 0; tries < 100; tries++) {
                DIR *d = opendir("/sys/class/virtio-ports");
                struct dirent *e;

                while (d && (e = readdir(d))) {
                        char path[300], name[64] = "";
                        FILE *f;

                        if (e->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
                        f = fopen(path, "re");
                        if (!f)
                                continue;
                        if (!fgets(name, sizeof(name), f))
                                name[0] = '\0';
                        fclose(f);
                        name[strcspn(name, "\n")] = '\0';
                        if (strcmp(name, PORT_NAME) == 0) {
                                static const char msg[] = "KC-TEST-INIT-PORT-OK\n";
                                int fd;

                                snprintf(path, sizeof(path), "/dev/%s", e->d_name);
                                fd = open(path, O_WRONLY | O_CLOEXEC);
                                closedir(d);
                                if (fd < 0 || write(fd, msg, sizeof(msg) - 1) != (ssize_t) sizeof(msg) - 1) {
                                        printf("KC-TEST-INIT: writing to %s failed: %m\n", path);
                                        return -1;
                                }
                                fsync(fd);
                                close(fd);
                                printf("KC-TEST-INIT: greeted on %s\n", path);
                                return 0;
                        }
                }
                if (d)
                        closedir(d);
                usleep(20000);
        }
        printf("KC-TEST-INIT: no virtio port named " PORT_NAME "\n");
        return -1;
}

/* Mounts the shared filesystem (tag kataShared) and prints the first line of hello.txt from it. */
static int read_shared(const char *type) {
        char line[256] = "";
        FILE *f;

        (void) mkdir("/mnt", 0755);
        if (mount("kataShared", "/mnt", type, 0,
                  strcmp(type, "9p") == 0 ? "trans=virtio,version=9p2000.L" : NULL) < 0) {
                printf("KC-TEST-INIT: mounting kataShared (%s) failed: %m\n", type);
                return -1;
        }
        f = fopen("/mnt/hello.txt", "re");
        if (!f || !fgets(line, sizeof(line), f)) {
                printf("KC-TEST-INIT: reading /mnt/hello.txt failed: %m\n");
                return -1;
        }
        fclose(f);
        line[strcspn(line, "\n")] = '\0';
        printf("KC-TEST-INIT: shared says '%s'\n", line);
        return 0;
}

/* What crun does to enter a container: pivot_root(2) in a new mount namespace. The kernel refuses it
 * when / is the initramfs itself; kata-conmon-guest-init makes / a real mount first. */
static int try_pivot_root(void) {
        int status = 0;
        pid_t pid = fork();

        if (pid == 0) {
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                        _exit(2);
                (void) mkdir("/tmp", 01777);
                (void) mkdir("/tmp/kc-pivot", 0755);
                if (mount("tmpfs", "/tmp/kc-pivot", "tmpfs", 0, NULL) < 0 ||
                    mkdir("/tmp/kc-pivot/old", 0755) < 0)
                        _exit(3);
                if (syscall(SYS_pivot_root, "/tmp/kc-pivot", "/tmp/kc-pivot/old") < 0) {
                        printf("KC-TEST-INIT: pivot_root failed: %m\n");
                        fflush(stdout);
                        _exit(1);
                }
                _exit(0);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                printf("KC-TEST-INIT: pivot_root test failed (status %d)\n", status);
                return -1;
        }
        printf("KC-TEST-INIT: pivot_root ok\n");
        return 0;
}

int main(void) {
        char cmdline[4096] = "";
        int fd;

        (void) mount("proc", "/proc", "proc", 0, NULL);
        (void) mount("sysfs", "/sys", "sysfs", 0, NULL);
        (void) mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
        fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);
                cmdline[n > 0 ? n : 0] = '\0';
                close(fd);
        }

        printf("KC-TEST-INIT-MARKER\n");
        fflush(stdout);
        if (strstr(cmdline, "kctest.modules=1")) {
                const char *fs = strstr(cmdline, "kctest.fs=virtiofs") ? "virtiofs"
                                 : strstr(cmdline, "kctest.fs=9p")     ? "9p"
                                                                       : NULL;

                bool pivot = strstr(cmdline, "kctest.pivot=1");

                if (load_modules() == 0 && greet_port() == 0 && (!fs || read_shared(fs) == 0) &&
                    (!pivot || try_pivot_root() == 0))
                        printf("KC-TEST-INIT: all good\n");
        }
        power_off();
}
