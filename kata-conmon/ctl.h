/* The ctl and winsz FIFOs in the bundle: resize and log-reopen requests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct KcCtl KcCtl;

typedef struct KcCtlCallbacks {
        void (*resize)(void *userdata, int rows, int cols);
        void (*reopen)(void *userdata);
} KcCtlCallbacks;

#define KC_CTL_RESIZE 1
#define KC_CTL_REOPEN 2
#define KC_CTL_MAX_SIZE 1000

/* Parses one ctl line ("<type> <height> <width>", extra tokens ignored). Returns 0,
 * -EINVAL (not three integers) or -ERANGE (height/width outside 0..1000). */
int kc_ctl_parse_line(const char *line, int *ret_type, int *ret_height, int *ret_width);
/* Parses one winsz line ("<height> <width>"). Same return values. */
int kc_ctl_parse_winsz(const char *line, int *ret_height, int *ret_width);

/* Line splitter with conmon's 200-byte buffer: feeds complete lines to cb, keeps a partial
 * tail, drops an over-long line. Pure, for tests. */
typedef struct KcLineBuffer {
        char buf[200];
        size_t len;
        bool discarding;
} KcLineBuffer;
typedef void (*KcLineCallback)(const char *line, void *userdata);
void kc_line_buffer_feed(KcLineBuffer *lb, const char *data, size_t len, KcLineCallback cb, void *userdata);

/* Creates (recreating if present) <bundle>/ctl and <bundle>/winsz and watches them. */
int kc_ctl_new(const char *bundle, const KcCtlCallbacks *cb, void *userdata, KcCtl **ret);
void kc_ctl_free(KcCtl *c);
