/* Facts about host processes read from /proc. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"
#include "proc-util.h"

int proc_start_time(pid_t pid, uint64_t *ret) {
        _cleanup_free_ char *text = NULL;
        unsigned long long start;
        char path[64], state;
        const char *p;
        int r;

        if (pid <= 0)
                return -ESRCH;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        r = read_file_bounded(path, 4096, &text, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        /* comm may contain anything, including ") ": the fields start after the last ')'. */
        p = strrchr(text, ')');
        if (!p)
                return -EBADMSG;
        /* field 3 (state) ... field 22 (starttime): skip 18 fields after the state. */
        if (sscanf(p + 1, " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
                   &state, &start) != 2)
                return -EBADMSG;
        if (state == 'Z' || state == 'X' || state == 'x')
                return -ESRCH;
        *ret = start;
        return 0;
}
