/* Starting a fresh k8s-file log at the same path: replace (tmp + rename) or rotate (path.N). */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log-internal.h"
#include "log.h"

int kc_log_replace_file(const char *path, int *ret_fd) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return negative_errno();
        if (rename(tmp, path) < 0) {
                int r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static bool path_has_prefix_dir(const char *path, const char *dir) {
        size_t n = strlen(dir);

        while (n > 1 && dir[n - 1] == '/')
                n--;
        if (strncmp(path, dir, n) != 0)
                return false;
        return path[n] == '/' || path[n] == '\0' || (n == 1 && dir[0] == '/');
}

int kc_log_rotate_check(const char *path, char *const *allowlist) {
        _cleanup_free_ char *copy = strdup(path);
        _cleanup_free_ char *parent = NULL;
        struct stat st;

        if (!copy)
                return -ENOMEM;

        if (lstat(path, &st) == 0) {
                if (S_ISLNK(st.st_mode))
                        return -ELOOP;
                if (!S_ISREG(st.st_mode))
                        return -EINVAL;
                if (st.st_uid != 0 && st.st_uid != geteuid())
                        return -EPERM;
        } else if (errno != ENOENT)
                return negative_errno();

        parent = realpath(dirname(copy), NULL);
        if (!parent)
                return negative_errno();
        if (stat(parent, &st) < 0)
                return negative_errno();
        /* Anyone could plant path.N links in a world-writable directory. */
        if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
                return -EPERM;
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return -EPERM;

        if (allowlist && allowlist[0]) {
                for (size_t i = 0; allowlist[i]; i++) {
                        _cleanup_free_ char *dir = NULL;

                        if (!allowlist[i][0])
                                continue;
                        dir = realpath(allowlist[i], NULL);
                        if (dir && path_has_prefix_dir(parent, dir))
                                return 0;
                }
                return -EACCES;
        }
        return 0;
}

static void unlock(int fd) {
        struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
        if (fd >= 0)
                (void) fcntl(fd, F_SETLK, &fl);
}

static int rotate_locked(const char *path, int max_files, int *ret_fd) {
        _cleanup_free_ char *fresh = NULL, *first = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&fresh, "%s.new", path) < 0 || asprintf(&first, "%s.1", path) < 0)
                return -ENOMEM;

        (void) unlink(fresh);
        fd = open(fresh, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return negative_errno();

        for (int i = max_files; i >= 2; i--) {
                _cleanup_free_ char *from = NULL, *to = NULL;

                if (asprintf(&from, "%s.%d", path, i - 1) < 0 || asprintf(&to, "%s.%d", path, i) < 0) {
                        (void) unlink(fresh);
                        return -ENOMEM;
                }
                if (rename(from, to) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Failed to shift %s to %s: %m", from, to);
        }

        /* After kubelet renamed the log away there is nothing to move: just put the new file. */
        if (rename(path, first) < 0 && errno != ENOENT) {
                r = negative_errno();
                (void) unlink(fresh);
                return r;
        }
        if (rename(fresh, path) < 0) {
                r = negative_errno();
                /* Put the old file back so logging continues where it was. */
                (void) rename(first, path);
                (void) unlink(fresh);
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int kc_log_rotate_file(const char *path, int old_fd, int max_files, char *const *allowlist, int *ret_fd) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        int r;

        if (max_files < 1)
                max_files = 1;

        r = kc_log_rotate_check(path, allowlist);
        if (r < 0)
                return r;

        /* Serialise against another process rotating the same file (a second monitor, logrotate). */
        if (old_fd >= 0 && fcntl(old_fd, F_SETLK, &fl) < 0)
                return negative_errno();
        r = rotate_locked(path, max_files, ret_fd);
        unlock(old_fd);
        return r;
}
