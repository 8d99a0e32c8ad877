/* The k8s-file (CRI) log driver: timestamped F/P records, size limit, replace or rotate. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log-internal.h"
#include "log.h"

struct KcK8sLog {
        char *path;
        int fd;
        int64_t size_max;
        int64_t global_size_max;
        int64_t bytes; /* in the current file, starting at its size when opened */
        int64_t total; /* across replacements, for --log-global-size-max */
        bool rotate;
        int max_files;
        char **allowlist;
        bool no_sync;
        bool write_failing; /* a write error was logged; quiet until a write succeeds */

        size_t n_iov;
        struct iovec iov[KC_LOG_IOV_MAX];
        /* Short records are copied here so that a chunk of tiny lines becomes a few large
         * segments: the kernel's per-segment cost dominates otherwise (~10x for 10-byte lines). */
        size_t stage_len;
        char stage[KC_LOG_STAGE_SIZE];
        /* "<timestamp> stdout F " and "... P ", rebuilt for every chunk. */
        char prefix_full[KC_LOG_TS_LEN + 32];
        char prefix_partial[KC_LOG_TS_LEN + 32];
        size_t prefix_len;
};

size_t kc_log_format_timestamp(const struct timespec *ts, char *buf, size_t size) {
        struct tm tm = {};
        time_t sec = ts->tv_sec;
        long off;
        char sign = '+';
        int n;

        if (!localtime_r(&sec, &tm)) {
                tm = (struct tm){.tm_year = 70, .tm_mday = 1};
        }
        off = tm.tm_gmtoff;
        if (off < 0) {
                sign = '-';
                off = -off;
        }
        n = snprintf(buf, size, "%d-%02d-%02dT%02d:%02d:%02d.%09ld%c%02ld:%02ld", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long) ts->tv_nsec, sign,
                     off / 3600, (off % 3600) / 60);
        if (n < 0)
                return 0;
        return (size_t) n >= size ? size - 1 : (size_t) n;
}

static char **strv_copy(char *const *v) {
        size_t n = 0;
        char **c;

        if (!v)
                return NULL;
        while (v[n])
                n++;
        c = calloc(n + 1, sizeof(char *));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(c[i] = strdup(v[i]))) {
                        for (size_t j = 0; j < i; j++)
                                free(c[j]);
                        free(c);
                        return NULL;
                }
        return c;
}

static void strv_free(char **v) {
        if (!v)
                return;
        for (size_t i = 0; v[i]; i++)
                free(v[i]);
        free(v);
}

int kc_k8s_log_open(const KcLogOptions *opts, const char *path, KcK8sLog **ret) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        KcK8sLog *l;

        /* O_NONBLOCK: a FIFO or pipe as log path must not stall the monitor (no effect on files). */
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0640);
        if (fd < 0)
                return negative_errno();

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        /* Reopen creates files next to this path later, after the monitor may have changed
         * directory: remember it absolute (without resolving symlinks, rotation checks those). */
        if (path[0] == '/')
                l->path = strdup(path);
        else {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (cwd && asprintf(&l->path, "%s/%s", cwd, path) < 0)
                        l->path = NULL;
        }
        if (!l->path || (opts->allowlist_dirs && !(l->allowlist = strv_copy(opts->allowlist_dirs)))) {
                kc_k8s_log_free(l);
                return -ENOMEM;
        }
        l->size_max = opts->size_max;
        l->global_size_max = opts->global_size_max;
        l->rotate = opts->rotate;
        l->max_files = opts->max_files > 0 ? opts->max_files : 1;
        l->no_sync = opts->no_sync;
        /* The size limit counts what the file already holds (a restarted container appends). */
        l->bytes = fstat(fd, &st) == 0 ? st.st_size : 0;
        l->total = l->bytes;
        l->fd = TAKE_FD(fd);
        *ret = l;
        return 0;
}

void kc_k8s_log_free(KcK8sLog *l) {
        if (!l)
                return;
        safe_close(l->fd);
        free(l->path);
        strv_free(l->allowlist);
        free(l);
}

int64_t kc_k8s_log_total_bytes(const KcK8sLog *l) {
        return l->total;
}

static void flush_iov(KcK8sLog *l) {
        struct iovec *iov = l->iov;
        int n = (int) l->n_iov;
        int r = 0;

        l->n_iov = 0;
        l->stage_len = 0;
        while (n > 0) {
                ssize_t k = writev(l->fd, iov, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        break;
                }
                if (k == 0) {
                        r = -EIO;
                        break;
                }
                while (n > 0 && (size_t) k >= iov->iov_len) {
                        k -= (ssize_t) iov->iov_len;
                        iov++;
                        n--;
                }
                if (n > 0) {
                        iov->iov_base = (char *) iov->iov_base + k;
                        iov->iov_len -= (size_t) k;
                }
        }

        if (r < 0) {
                /* ENOSPC and friends: say it once per burst, drop the data, keep going. */
                if (!l->write_failing)
                        log_warning_errno(r, "Failed to write container log %s, dropping output: %m",
                                          l->path);
                l->write_failing = true;
        } else
                l->write_failing = false;
}

/* Queues bytes that stay valid until the next flush (the caller's chunk). */
static void push_ref(KcK8sLog *l, const void *p, size_t len) {
        if (l->n_iov == KC_LOG_IOV_MAX)
                flush_iov(l);
        l->iov[l->n_iov++] = (struct iovec){.iov_base = (void *) p, .iov_len = len};
}

/* Queues a copy of short data, growing the last segment when it ends in the stage. */
static void push_copy(KcK8sLog *l, const void *p, size_t len) {
        char *dst;

        if (l->stage_len + len > sizeof(l->stage))
                flush_iov(l);
        dst = l->stage + l->stage_len;
        memcpy(dst, p, len);
        l->stage_len += len;
        if (l->n_iov > 0) {
                struct iovec *last = &l->iov[l->n_iov - 1];
                if ((char *) last->iov_base + last->iov_len == dst) {
                        last->iov_len += len;
                        return;
                }
        }
        push_ref(l, dst, len);
}

/* Starts a fresh file at the path (size limit or reopen). Keeps the old fd on failure. */
static int k8s_replace(KcK8sLog *l) {
        int fd = -EBADF, r;

        if (l->rotate)
                r = kc_log_rotate_file(l->path, l->fd, l->max_files, l->allowlist, &fd);
        else
                r = kc_log_replace_file(l->path, &fd);
        if (r < 0)
                return r;
        safe_close(l->fd);
        l->fd = fd;
        l->bytes = 0;
        return 0;
}

void kc_k8s_log_write(KcK8sLog *l, KcStream stream, const struct timespec *ts, const char *buf, size_t len) {
        const char *name = stream == KC_STREAM_STDERR   ? "stderr"
                           : stream == KC_STREAM_STDOUT ? "stdout"
                                                        : "stdin";
        char tsbuf[KC_LOG_TS_LEN + 16];
        size_t tslen;

        if (len == 0)
                return;
        tslen = kc_log_format_timestamp(ts, tsbuf, sizeof(tsbuf));
        l->prefix_len = (size_t) snprintf(l->prefix_full, sizeof(l->prefix_full), "%.*s %s F ", (int) tslen,
                                          tsbuf, name);
        memcpy(l->prefix_partial, l->prefix_full, l->prefix_len);
        l->prefix_partial[l->prefix_len - 2] = 'P';

        while (len > 0) {
                size_t max = len < KC_LOG_LINE_MAX ? len : KC_LOG_LINE_MAX;
                const char *nl = memchr(buf, '\n', max);
                bool partial = !nl;
                size_t line_len = partial ? max : (size_t) (nl - buf) + 1;
                /* What conmon counts: 44-byte "timestamp stream " + "F " + the line (+ '\n'). */
                int64_t record = (int64_t) (line_len + KC_LOG_RECORD_OVERHEAD + (partial ? 1 : 0));

                if (l->global_size_max > 0 && l->total >= l->global_size_max)
                        break;

                if (l->size_max > 0 && l->bytes + record > l->size_max) {
                        int r;

                        flush_iov(l);
                        r = k8s_replace(l);
                        if (r < 0) {
                                log_warning_errno(r, "Failed to start a new container log at %s: %m",
                                                  l->path);
                                /* Retry only after another size_max bytes. */
                                l->bytes = 0;
                        }
                }

                push_copy(l, partial ? l->prefix_partial : l->prefix_full, l->prefix_len);
                if (line_len <= KC_LOG_COPY_MAX)
                        push_copy(l, buf, line_len);
                else
                        push_ref(l, buf, line_len);
                if (partial)
                        push_copy(l, "\n", 1);
                l->bytes += record;
                l->total += record;

                buf += line_len;
                len -= line_len;
        }
        flush_iov(l);
}

int kc_k8s_log_reopen(KcK8sLog *l) {
        flush_iov(l);
        return k8s_replace(l);
}

void kc_k8s_log_sync(KcK8sLog *l) {
        flush_iov(l);
        if (!l->no_sync && fsync(l->fd) < 0 && errno != EINVAL)
                log_warning_errno(errno, "Failed to sync container log %s: %m", l->path);
}
