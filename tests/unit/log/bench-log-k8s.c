/* Benchmark: k8s-file driver throughput for 8192-byte chunks of short, medium and long lines. */
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "logging.h"

static double run(const char *path, int line_len, long chunks) {
        char *paths[] = {(char *) path, NULL};
        KcLogOptions o = {.log_paths = paths, .cid = "0123456789abcdef"};
        KcLogSet *set = NULL;
        g_autofree char *err = NULL;
        struct timespec a, b;
        char buf[8192];

        g_assert_cmpint(kc_log_open(&o, &set, &err), ==, 0);
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (int) (i % (size_t) line_len) == line_len - 1 ? '\n' : 'a';
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < chunks; i++)
                kc_log_write(set, KC_STREAM_STDOUT, buf, sizeof(buf));
        clock_gettime(CLOCK_MONOTONIC, &b);
        kc_log_free(set);
        (void) unlink(path);
        return (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9;
}

int main(void) {
        g_autofree char *dir = g_dir_make_tmp("kc-log-bench-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "0.log", NULL);
        const int lens[] = {10, 80, 1000, 20000};
        const long chunks = 5000;

        for (size_t i = 0; i < G_N_ELEMENTS(lens); i++) {
                double s = run(path, lens[i], chunks);
                printf("line %5d bytes: %8.1f MB/s of container output, %10.0f lines/s\n", lens[i],
                       (double) chunks * 8192 / s / 1e6, (double) chunks * 8192 / lens[i] / s);
        }
        return rm_rf(dir) < 0;
}
