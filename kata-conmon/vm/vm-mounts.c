/* Bind mounts under the sandbox's shared dir: set-up, rootfs in, everything out on teardown. */
#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "macro.h"
#include "fileio.h"
#include "log.h"
#include "vm-mounts.h"

/* Unmounts everything stacked on path; "not a mount point" ends the loop. */
static int umount_all(const char *path) {
        for (int i = 0; i < 64; i++)
                if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
                        return errno == EINVAL || errno == ENOENT ? 0 : -errno;
        return -EBUSY;
}

int kc_vm_shared_setup(const char *shared_dir) {
        int r = mkdir_p(shared_dir, 0700);

        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", shared_dir);
        if (mount(shared_dir, shared_dir, NULL, MS_BIND, NULL) < 0)
                return log_error_errno(errno, "Failed to bind-mount %s: %m", shared_dir);
        if (mount(NULL, shared_dir, NULL, MS_PRIVATE, NULL) < 0 ||
            mount(NULL, shared_dir, NULL, MS_SHARED, NULL) < 0) {
                r = log_error_errno(errno, "Failed to make %s a shared mount: %m", shared_dir);
                (void) umount2(shared_dir, MNT_DETACH);
                return r;
        }
        return 0;
}

int kc_vm_rootfs_mount(const char *shared_dir, const char *cid, const char *rootfs, bool readonly) {
        g_autofree char *target = g_build_filename(shared_dir, cid, "rootfs", NULL);
        struct stat st;
        int r;

        if (stat(rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
                return log_error_errno(errno ? errno : ENOTDIR, "Container rootfs %s is not a directory",
                                       rootfs);
        r = mkdir_p(target, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", target);
        if (mount(rootfs, target, NULL, MS_BIND | MS_REC, NULL) < 0)
                return log_error_errno(errno, "Failed to bind-mount %s: %m", rootfs);
        if (readonly && mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
                r = log_error_errno(errno, "Failed to make %s read-only: %m", target);
                (void) umount2(target, MNT_DETACH);
                return r;
        }
        return 0;
}

int kc_vm_rootfs_umount(const char *shared_dir, const char *cid) {
        g_autofree char *dir = g_build_filename(shared_dir, cid, NULL);
        g_autofree char *target = g_build_filename(dir, "rootfs", NULL);

        int r = umount_all(target);

        if (r < 0)
                return log_warning_errno(r, "Failed to unmount %s: %m", target);
        (void) rmdir(target);
        if (rmdir(dir) < 0 && errno != ENOENT)
                return log_warning_errno(errno, "Failed to remove %s: %m", dir);
        return 0;
}

int kc_vm_sandbox_dir_remove(const char *sandbox_dir) {
        g_autofree char *shared = g_build_filename(sandbox_dir, "shared", NULL);
        DIR *d = opendir(shared);
        int r;

        if (d) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.')
                                (void) kc_vm_rootfs_umount(shared, de->d_name);
                closedir(d);
        }
        r = umount_all(shared);
        if (r < 0)
                log_warning_errno(r, "Failed to unmount %s: %m", shared);
        r = rm_rf(sandbox_dir);
        if (r < 0 && r != -ENOENT)
                return log_warning_errno(r, "Failed to remove %s: %m", sandbox_dir);
        return 0;
}
