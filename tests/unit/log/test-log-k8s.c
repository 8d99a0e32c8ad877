/* Unit tests for the k8s-file log driver: byte-exact records, size limit, reopen, rotation. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log-internal.h"
#include "log.h"

/* 2026-11-23T10:57:41 UTC */
#define FIXED_SEC 1795431461
static struct timespec fake_now = {.tv_sec = FIXED_SEC, .tv_nsec = 32717874};

static int fake_clock(struct timespec *ret) {
        *ret = fake_now;
        return 0;
}

typedef struct Fixture {
        char *dir;
        char *path;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        f->dir = g_dir_make_tmp("kc-log-XXXXXX", NULL);
        g_assert_nonnull(f->dir);
        f->path = g_build_filename(f->dir, "0.log", NULL);
        fake_now.tv_nsec = 32717874;
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        g_assert_cmpint(rm_rf(f->dir), ==, 0);
        g_free(f->dir);
        g_free(f->path);
}

static KcLogSet *open_set(const char *path, KcLogOptions *extra) {
        g_autofree char *value = g_strconcat("k8s-file:", path, NULL);
        char *paths[] = {value, NULL};
        KcLogOptions o = extra ? *extra : (KcLogOptions){};
        KcLogSet *set = NULL;
        g_autofree char *err = NULL;

        o.log_paths = paths;
        o.cid = "0123456789abcdef0123";
        g_assert_cmpint(kc_log_open(&o, &set, &err), ==, 0);
        g_assert_null(err);
        kc_log_set_clock(set, fake_clock);
        return set;
}

static char *slurp(const char *path) {
        char *s = NULL;
        g_assert_true(g_file_get_contents(path, &s, NULL, NULL));
        return s;
}

static void assert_no_tmp(Fixture *f) {
        g_autofree char *tmp = g_strconcat(f->path, ".tmp", NULL);
        g_assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
}

static void wr(KcLogSet *set, KcStream s, const char *text) {
        kc_log_write(set, s, text, strlen(text));
}

static void set_tz(const char *tz) {
        g_setenv("TZ", tz, TRUE);
        tzset();
}

static void test_timestamp(void) {
        char buf[64];
        struct timespec ts = {.tv_sec = FIXED_SEC, .tv_nsec = 5};

        set_tz("UTC0");
        g_assert_cmpuint(kc_log_format_timestamp(&ts, buf, sizeof(buf)), ==, KC_LOG_TS_LEN);
        g_assert_cmpstr(buf, ==, "2026-11-23T10:57:41.000000005+00:00");
        set_tz("IST-5:30");
        kc_log_format_timestamp(&ts, buf, sizeof(buf));
        g_assert_cmpstr(buf, ==, "2026-11-23T16:27:41.000000005+05:30");
        set_tz("EST5");
        ts.tv_nsec = 999999999;
        kc_log_format_timestamp(&ts, buf, sizeof(buf));
        g_assert_cmpstr(buf, ==, "2026-11-23T05:57:41.999999999-05:00");
        set_tz("UTC0");
}

static void test_records(Fixture *f, gconstpointer data) {
        KcLogSet *set = open_set(f->path, NULL);
        g_autofree char *content = NULL;
        struct stat st;

        set_tz("UTC0");
        wr(set, KC_STREAM_STDOUT, "hello\nworld\npart");
        fake_now.tv_nsec = 233976915;
        wr(set, KC_STREAM_STDERR, "ial\n line\n\n");
        kc_log_flush(set);
        kc_log_free(set);

        content = slurp(f->path);
        g_assert_cmpstr(content, ==,
                        "2026-11-23T10:57:41.032717874+00:00 stdout F hello\n"
                        "2026-11-23T10:57:41.032717874+00:00 stdout F world\n"
                        "2026-11-23T10:57:41.032717874+00:00 stdout P part\n"
                        "2026-11-23T10:57:41.233976915+00:00 stderr F ial\n"
                        "2026-11-23T10:57:41.233976915+00:00 stderr F  line\n"
                        "2026-11-23T10:57:41.233976915+00:00 stderr F \n");
        g_assert_cmpint(stat(f->path, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0777, ==, 0640);
}

/* A container exiting mid-line leaves the P record and no terminating F (conmon#252). */
static void test_trailing_partial(Fixture *f, gconstpointer data) {
        KcLogSet *set = open_set(f->path, NULL);
        g_autofree char *content = NULL;

        wr(set, KC_STREAM_STDOUT, "hello");
        kc_log_flush(set);
        kc_log_free(set);
        content = slurp(f->path);
        g_assert_cmpstr(content, ==, "2026-11-23T10:57:41.032717874+00:00 stdout P hello\n");
}

static void test_long_line(Fixture *f, gconstpointer data) {
        KcLogSet *set = open_set(f->path, NULL);
        g_autofree char *content = NULL;
        g_autofree char *big = g_malloc(20001);
        g_auto(GStrv) lines = NULL;

        memset(big, '#', 20000);
        big[20000] = '\n';
        kc_log_write(set, KC_STREAM_STDOUT, big, 20001);
        kc_log_free(set);

        content = slurp(f->path);
        lines = g_strsplit(content, "\n", -1);
        g_assert_cmpuint(g_strv_length(lines), ==, 4);
        g_assert_cmpuint(strlen(lines[0]), ==, 45 + 8192);
        g_assert_true(g_str_has_prefix(lines[0], "2026-11-23T10:57:41.032717874+00:00 stdout P ###"));
        g_assert_true(g_str_has_prefix(lines[1], "2026-11-23T10:57:41.032717874+00:00 stdout P ###"));
        g_assert_cmpuint(strlen(lines[1]), ==, 45 + 8192);
        g_assert_true(g_str_has_prefix(lines[2], "2026-11-23T10:57:41.032717874+00:00 stdout F ###"));
        g_assert_cmpuint(strlen(lines[2]), ==, 45 + 20000 - 2 * 8192);
        g_assert_cmpstr(lines[3], ==, "");
}

/* More records than one writev batch holds. */
static void test_many_lines(Fixture *f, gconstpointer data) {
        KcLogSet *set = open_set(f->path, NULL);
        g_autofree char *content = NULL;
        GString *chunk = g_string_new(NULL);
        g_auto(GStrv) lines = NULL;

        for (int i = 0; i < 1000; i++)
                g_string_append_printf(chunk, "%d\n", i);
        kc_log_write(set, KC_STREAM_STDOUT, chunk->str, chunk->len);
        kc_log_free(set);
        g_string_free(chunk, TRUE);

        content = slurp(f->path);
        lines = g_strsplit(content, "\n", -1);
        g_assert_cmpuint(g_strv_length(lines), ==, 1001);
        for (int i = 0; i < 1000; i++) {
                g_autofree char *want =
                        g_strdup_printf("2026-11-23T10:57:41.032717874+00:00 stdout F %d", i);
                g_assert_cmpstr(lines[i], ==, want);
        }
}

/* conmon's test: with --log-size-max 10 only the last line survives. */
static void test_size_max_tiny(Fixture *f, gconstpointer data) {
        KcLogOptions o = {.size_max = 10};
        KcLogSet *set = open_set(f->path, &o);
        g_autofree char *content = NULL;

        wr(set, KC_STREAM_STDOUT, "one\n");
        wr(set, KC_STREAM_STDOUT, "two\nthree\n");
        kc_log_free(set);
        content = slurp(f->path);
        g_assert_cmpstr(content, ==, "2026-11-23T10:57:41.032717874+00:00 stdout F three\n");
        assert_no_tmp(f);
}

/* The counter starts at the existing size; the replace happens before the overflowing line. */
static void test_size_max_existing(Fixture *f, gconstpointer data) {
        KcLogOptions o = {.size_max = 200};
        g_autofree char *content = NULL;
        g_autofree char *tmp = g_strconcat(f->path, ".tmp", NULL);
        char old[101];
        KcLogSet *set;

        memset(old, 'x', 100);
        old[99] = '\n';
        old[100] = 0;
        g_assert_true(g_file_set_contents(f->path, old, 100, NULL));
        set = open_set(f->path, &o);
        /* 100 + (45 + 10) = 155 <= 200: appended. */
        wr(set, KC_STREAM_STDOUT, "123456789\n");
        content = slurp(f->path);
        g_assert_cmpuint(strlen(content), ==, 155);
        g_clear_pointer(&content, g_free);
        /* 155 + 55 > 200: a new file holds only this record. */
        wr(set, KC_STREAM_STDOUT, "abcdefghi\n");
        /* 55 + 45 + 4 (partial: +1) = 105 <= 200: appended. */
        wr(set, KC_STREAM_STDOUT, "end");
        kc_log_free(set);
        content = slurp(f->path);
        g_assert_cmpstr(content, ==,
                        "2026-11-23T10:57:41.032717874+00:00 stdout F abcdefghi\n"
                        "2026-11-23T10:57:41.032717874+00:00 stdout P end\n");
        g_assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
}

static void test_global_size_max(Fixture *f, gconstpointer data) {
        KcLogOptions o = {.global_size_max = 100};
        KcLogSet *set = open_set(f->path, &o);
        g_autofree char *content = NULL;

        /* Each record is 50 bytes: the third starts at total 100 and is not written. */
        wr(set, KC_STREAM_STDOUT, "aaaa\nbbbb\ncccc\n");
        g_assert_cmpint(kc_log_reopen(set), ==, 0);
        wr(set, KC_STREAM_STDOUT, "dddd\n");
        kc_log_free(set);
        content = slurp(f->path);
        g_assert_cmpstr(content, ==, "");
}

/* The limit is checked before a record, so the last one may go past it. */
static void test_global_size_max_overshoot(Fixture *f, gconstpointer data) {
        KcLogOptions o = {.global_size_max = 60};
        KcLogSet *set = open_set(f->path, &o);
        g_autofree char *content = NULL;

        wr(set, KC_STREAM_STDOUT, "aaaa\nbbbb\n");
        kc_log_free(set);
        content = slurp(f->path);
        g_assert_cmpstr(content, ==,
                        "2026-11-23T10:57:41.032717874+00:00 stdout F aaaa\n"
                        "2026-11-23T10:57:41.032717874+00:00 stdout F bbbb\n");
}

/* kubelet renames 0.log, then asks for a reopen: a fresh file must appear at the path. */
static void test_reopen_after_rename(Fixture *f, gconstpointer data) {
        KcLogSet *set = open_set(f->path, NULL);
        g_autofree char *moved = g_strconcat(f->path, ".20261123", NULL);
        g_autofree char *a = NULL, *b = NULL;
        struct stat st;

        wr(set, KC_STREAM_STDOUT, "before\n");
        g_assert_cmpint(rename(f->path, moved), ==, 0);
        g_assert_cmpint(kc_log_reopen(set), ==, 0);
        g_assert_cmpint(stat(f->path, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0777, ==, 0640);
        wr(set, KC_STREAM_STDOUT, "after\n");
        kc_log_free(set);
        a = slurp(moved);
        b = slurp(f->path);
        g_assert_cmpstr(a, ==, "2026-11-23T10:57:41.032717874+00:00 stdout F before\n");
        g_assert_cmpstr(b, ==, "2026-11-23T10:57:41.032717874+00:00 stdout F after\n");
}

static void test_reopen_empties(Fixture *f, gconstpointer data) {
        KcLogSet *set = open_set(f->path, NULL);
        g_autofree char *content = NULL;

        wr(set, KC_STREAM_STDOUT, "before\n");
        g_assert_cmpint(kc_log_reopen(set), ==, 0);
        content = slurp(f->path);
        g_assert_cmpstr(content, ==, "");
        kc_log_free(set);
}

static void assert_file(const char *dir, const char *name, const char *want) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        g_autofree char *c = NULL;

        if (!want) {
                g_assert_false(g_file_test(p, G_FILE_TEST_EXISTS));
                return;
        }
        c = slurp(p);
        g_assert_cmpstr(c, ==, want);
}

#define REC(s) "2026-11-23T10:57:41.032717874+00:00 stdout F " s "\n"

static void test_rotate(Fixture *f, gconstpointer data) {
        KcLogOptions o = {.rotate = true, .max_files = 2};
        KcLogSet *set = open_set(f->path, &o);

        wr(set, KC_STREAM_STDOUT, "1\n");
        g_assert_cmpint(kc_log_reopen(set), ==, 0);
        wr(set, KC_STREAM_STDOUT, "2\n");
        g_assert_cmpint(kc_log_reopen(set), ==, 0);
        wr(set, KC_STREAM_STDOUT, "3\n");
        g_assert_cmpint(kc_log_reopen(set), ==, 0);
        wr(set, KC_STREAM_STDOUT, "4\n");
        kc_log_free(set);
        assert_file(f->dir, "0.log", REC("4"));
        assert_file(f->dir, "0.log.1", REC("3"));
        assert_file(f->dir, "0.log.2", REC("2"));
        assert_file(f->dir, "0.log.3", NULL);
        assert_file(f->dir, "0.log.new", NULL);
}

static void test_rotate_on_size(Fixture *f, gconstpointer data) {
        KcLogOptions o = {.rotate = true, .max_files = 1, .size_max = 60};
        KcLogSet *set = open_set(f->path, &o);

        wr(set, KC_STREAM_STDOUT, "a\nb\nc\n");
        kc_log_free(set);
        assert_file(f->dir, "0.log", REC("c"));
        assert_file(f->dir, "0.log.1", REC("b"));
        assert_file(f->dir, "0.log.2", NULL);
}

static void test_rotate_refused(Fixture *f, gconstpointer data) {
        g_autofree char *real = g_build_filename(f->dir, "real.log", NULL);
        g_autofree char *other = g_dir_make_tmp("kc-log-other-XXXXXX", NULL);
        char *allow[] = {other, NULL};
        KcLogOptions o = {.rotate = true, .max_files = 1};
        KcLogSet *set;

        /* A symlinked log path is not rotated; logging continues in the old file. */
        g_assert_cmpint(symlink(real, f->path), ==, 0);
        set = open_set(f->path, &o);
        wr(set, KC_STREAM_STDOUT, "a\n");
        g_assert_cmpint(kc_log_reopen(set), ==, -ELOOP);
        wr(set, KC_STREAM_STDOUT, "b\n");
        kc_log_free(set);
        assert_file(f->dir, "real.log", REC("a") REC("b"));
        assert_file(f->dir, "0.log.1", NULL);
        g_assert_cmpint(unlink(f->path), ==, 0);

        /* Outside the allowlist: refused. */
        o.allowlist_dirs = allow;
        set = open_set(f->path, &o);
        wr(set, KC_STREAM_STDOUT, "c\n");
        g_assert_cmpint(kc_log_reopen(set), ==, -EACCES);
        kc_log_free(set);
        assert_file(f->dir, "0.log", REC("c"));

        /* Inside: rotated. */
        allow[0] = f->dir;
        set = open_set(f->path, &o);
        g_assert_cmpint(kc_log_reopen(set), ==, 0);
        kc_log_free(set);
        assert_file(f->dir, "0.log", "");
        assert_file(f->dir, "0.log.1", REC("c"));

        /* World-writable parent without the sticky bit: refused. */
        g_assert_cmpint(chmod(f->dir, 0777), ==, 0);
        o.allowlist_dirs = NULL;
        set = open_set(f->path, &o);
        g_assert_cmpint(kc_log_reopen(set), ==, -EPERM);
        kc_log_free(set);
        g_assert_cmpint(rmdir(other), ==, 0);
}

/* A relative log path keeps naming the same file after the monitor changes directory. */
static void test_relative_path(Fixture *f, gconstpointer data) {
        g_autofree char *old_cwd = g_get_current_dir();
        g_autofree char *elsewhere = g_build_filename(f->dir, "elsewhere", NULL);
        KcLogSet *set;

        g_assert_cmpint(mkdir(elsewhere, 0700), ==, 0);
        g_assert_cmpint(chdir(f->dir), ==, 0);
        set = open_set("0.log", NULL);
        g_assert_cmpint(chdir(elsewhere), ==, 0);
        wr(set, KC_STREAM_STDOUT, "a\n");
        g_assert_cmpint(kc_log_reopen(set), ==, 0);
        wr(set, KC_STREAM_STDOUT, "b\n");
        kc_log_free(set);
        g_assert_cmpint(chdir(old_cwd), ==, 0);
        assert_file(f->dir, "0.log", REC("b"));
        assert_file(elsewhere, "0.log", NULL);
}

/* With --log-rotate, a reopen after kubelet renamed the log still puts a fresh file at the path. */
static void test_rotate_after_rename(Fixture *f, gconstpointer data) {
        KcLogOptions o = {.rotate = true, .max_files = 3};
        KcLogSet *set = open_set(f->path, &o);
        g_autofree char *moved = g_strconcat(f->path, ".20261123-105741", NULL);

        wr(set, KC_STREAM_STDOUT, "old\n");
        g_assert_cmpint(rename(f->path, moved), ==, 0);
        g_assert_cmpint(kc_log_reopen(set), ==, 0);
        wr(set, KC_STREAM_STDOUT, "new\n");
        kc_log_free(set);
        assert_file(f->dir, "0.log", REC("new"));
        assert_file(f->dir, "0.log.20261123-105741", REC("old"));
        assert_file(f->dir, "0.log.1", NULL);
}

/* Another process holding a lock on the log: rotation is skipped, logging continues. */
static void test_rotate_locked(Fixture *f, gconstpointer data) {
        KcLogOptions o = {.rotate = true, .max_files = 1};
        KcLogSet *set = open_set(f->path, &o);
        int ready[2], done[2], status;
        char c;
        pid_t pid;

        g_assert_cmpint(pipe(ready), ==, 0);
        g_assert_cmpint(pipe(done), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
                int fd = open(f->path, O_WRONLY | O_CLOEXEC);
                if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
                        _exit(1);
                (void) !write(ready[1], "x", 1);
                (void) !read(done[0], &c, 1);
                _exit(0);
        }
        g_assert_cmpint(read(ready[0], &c, 1), ==, 1);
        wr(set, KC_STREAM_STDOUT, "a\n");
        g_assert_cmpint(kc_log_reopen(set), <, 0);
        wr(set, KC_STREAM_STDOUT, "b\n");
        g_assert_cmpint(write(done[1], "x", 1), ==, 1);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        for (int i = 0; i < 2; i++) {
                close(ready[i]);
                close(done[i]);
        }
        g_assert_cmpint(kc_log_reopen(set), ==, 0);
        kc_log_free(set);
        assert_file(f->dir, "0.log", "");
        assert_file(f->dir, "0.log.1", REC("a") REC("b"));
}

static int warnings;
static char last_warning[512];

static void count_sink(const KcLogRecord *rec, void *userdata) {
        if (rec->priority <= LOG_WARNING) {
                warnings++;
                g_strlcpy(last_warning, rec->message, sizeof(last_warning));
        }
}

/* A full disk: the data is dropped, the error reported once per burst, nothing blocks. */
static void test_enospc(void) {
        KcLogSet *set;

        if (access("/dev/full", W_OK) < 0) {
                g_test_fail_printf("/dev/full is not writable: cannot simulate a full disk");
                return;
        }
        set = open_set("/dev/full", NULL);
        kc_log_set_sink(count_sink, NULL);
        kc_log_set_stderr(false);
        warnings = 0;
        for (int i = 0; i < 100; i++)
                wr(set, KC_STREAM_STDOUT, "data\nmore\n");
        kc_log_flush(set);
        g_assert_cmpint(warnings, ==, 1);
        g_assert_nonnull(strstr(last_warning, "No space left on device"));
        kc_log_free(set);
        kc_log_set_sink(NULL, NULL);
        kc_log_set_stderr(true);
}

/* A FIFO nobody drains as log path: writes fail with EAGAIN and are dropped, never block. */
static void test_fifo_never_blocks(Fixture *f, gconstpointer data) {
        _cleanup_close_ int rd = -EBADF;
        char chunk[8192], head[64] = {};
        KcLogSet *set;

        g_assert_cmpint(mkfifo(f->path, 0600), ==, 0);
        rd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        g_assert_cmpint(rd, >=, 0);
        set = open_set(f->path, NULL);
        kc_log_set_sink(count_sink, NULL);
        kc_log_set_stderr(false);
        warnings = 0;
        memset(chunk, 'x', sizeof(chunk));
        chunk[sizeof(chunk) - 1] = '\n';
        alarm(20); /* a blocking write would hang here: SIGALRM fails the test */
        for (int i = 0; i < 200; i++)
                kc_log_write(set, KC_STREAM_STDOUT, chunk, sizeof(chunk));
        alarm(0);
        kc_log_set_sink(NULL, NULL);
        kc_log_set_stderr(true);
        /* Said once for the whole burst, not once per chunk. */
        g_assert_cmpint(warnings, ==, 1);
        g_assert_nonnull(strstr(last_warning, "Resource temporarily unavailable"));
        g_assert_cmpint(read(rd, head, 45), ==, 45);
        g_assert_cmpstr(head, ==, "2026-11-23T10:57:41.032717874+00:00 stdout F ");
        kc_log_free(set);
}

int main(int argc, char **argv) {
        umask(022);
        set_tz("UTC0");
        g_test_init(&argc, &argv, NULL);

#define ADD(name, fn) g_test_add("/log/k8s/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        g_test_add_func("/log/k8s/timestamp", test_timestamp);
        ADD("records", test_records);
        ADD("trailing-partial", test_trailing_partial);
        ADD("long-line", test_long_line);
        ADD("many-lines", test_many_lines);
        ADD("size-max-tiny", test_size_max_tiny);
        ADD("size-max-existing", test_size_max_existing);
        ADD("global-size-max", test_global_size_max);
        ADD("global-size-max-overshoot", test_global_size_max_overshoot);
        ADD("reopen-after-rename", test_reopen_after_rename);
        ADD("reopen-empties", test_reopen_empties);
        ADD("rotate", test_rotate);
        ADD("rotate-on-size", test_rotate_on_size);
        ADD("rotate-refused", test_rotate_refused);
        ADD("rotate-after-rename", test_rotate_after_rename);
        ADD("relative-path", test_relative_path);
        ADD("rotate-locked", test_rotate_locked);
        ADD("fifo-never-blocks", test_fifo_never_blocks);
        g_test_add_func("/log/k8s/enospc", test_enospc);
        return g_test_run();
}
