/* Test helper: writes a fixed sequence of container output through the journald (+ k8s-file) drivers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"

static void wr(KcLogSet *set, KcStream s, const char *t) {
        kc_log_write(set, s, t, strlen(t));
}

int main(int argc, char **argv) {
        char *labels[] = {"KC_TEST_LABEL=blue", NULL};
        char *paths[] = {"journald:", NULL, NULL};
        KcLogOptions o = {.log_paths = paths, .name = "web-1", .labels = labels};
        KcLogSet *set = NULL;
        char *err = NULL;
        char big[10000];

        if (argc != 3) {
                fprintf(stderr, "usage: %s CID K8S-LOG-PATH\n", argv[0]);
                return 2;
        }
        o.cid = argv[1];
        paths[1] = argv[2];
        if (kc_log_open(&o, &set, &err) < 0) {
                fprintf(stderr, "kc_log_open: %s\n", err ? err : "failed");
                return 1;
        }
        wr(set, KC_STREAM_STDOUT, "hello from kata\nsecond ");
        wr(set, KC_STREAM_STDOUT, "line\n");
        wr(set, KC_STREAM_STDERR, "<4>warned\nplain error\n");
        memset(big, '#', sizeof(big));
        kc_log_write(set, KC_STREAM_STDOUT, big, 8192);
        kc_log_write(set, KC_STREAM_STDOUT, big, sizeof(big) - 8192);
        wr(set, KC_STREAM_STDOUT, "\ntail");
        kc_log_flush(set);
        kc_log_free(set);
        return 0;
}
