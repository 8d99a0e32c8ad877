/* Guest /init, stage 0: gives the initramfs a real root mount, then execs /sbin/init (kata-agent) as PID 1.
 *
 * The initramfs is the kernel's "rootfs" mount, which pivot_root(2) refuses to leave (EINVAL), so
 * crun could only enter containers with chroot (--no-pivot), from which a root process can climb
 * back out. A bind mount of / moved on top of / is an ordinary mount with a parent: pivot_root
 * works from there, and nothing is copied. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define NEW_ROOT "/.kc-root"
#define NEXT "/sbin/init"

static int remount_root(void) {
        if (mkdir(NEW_ROOT, 0755) < 0 && errno != EEXIST)
                return -errno;
        if (mount("/", NEW_ROOT, NULL, MS_BIND, NULL) < 0)
                return -errno;
        if (chdir(NEW_ROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
            chdir("/") < 0)
                return -errno;
        return 0;
}

int main(int argc, char **argv) {
        char *fallback[] = {(char *) NEXT, NULL};
        int r;

        /* Only PID 1 of a fresh guest has an initramfs root to fix. */
        if (getpid() == 1) {
                r = remount_root();
                if (r < 0)
                        /* The guest still works (crun --no-pivot); say why on the console. */
                        fprintf(stderr, "kata-conmon-guest-init: cannot give / a real mount: %s\n",
                                strerror(-r));
        }
        if (argc < 1 || !argv[0])
                argv = fallback;
        argv[0] = (char *) NEXT;
        execv(NEXT, argv);
        fprintf(stderr, "kata-conmon-guest-init: cannot execute " NEXT ": %s\n", strerror(errno));
        return 127;
}
