/* Files the monitor leaves for its callers: exit status, oom markers, its own pidfile. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exit-files.h"
#include "fileio.h"
#include "log.h"

static int write_number(const char *path, long long v) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%lld", v);
        int r = write_file_atomic(path, buf, (size_t) n, 0644, false);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);
        return 0;
}

int kc_exit_files_write(const char *persist_dir, const char *exit_dir, const char *cid, int status) {
        int r = 0, q;

        /* CRI-O takes the finish time from the persist file, so it goes first. */
        if (persist_dir) {
                g_autofree char *p = g_build_filename(persist_dir, "exit", NULL);
                q = write_number(p, status);
                if (q < 0)
                        r = q;
        }
        if (exit_dir) {
                g_autofree char *p = g_build_filename(exit_dir, cid, NULL);
                q = write_number(p, status);
                if (q < 0 && r == 0)
                        r = q;
        }
        return r;
}

int kc_oom_files_write(const char *bundle, const char *persist_dir) {
        const char *dirs[] = {bundle, persist_dir};
        int r = 0;

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                if (!dirs[i])
                        continue;
                g_autofree char *p = g_build_filename(dirs[i], "oom", NULL);
                int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
                if (fd < 0) {
                        r = log_warning_errno(errno, "Failed to write %s: %m", p);
                        continue;
                }
                close(fd);
        }
        return r;
}

int kc_pidfile_write(const char *path, pid_t pid) {
        return write_number(path, pid);
}
