/* Internal interfaces between the log drivers; also what the unit tests exercise directly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include "logging.h"
#include "macro.h"

/* conmon's read size: a record never carries more than this many bytes of a line. */
#define KC_LOG_LINE_MAX 8192
/* writev batch size, as conmon. */
#define KC_LOG_IOV_MAX 128
/* Staging buffer for short records, and the longest line copied into it. */
#define KC_LOG_STAGE_SIZE 32768
#define KC_LOG_COPY_MAX 512
/* "2026-11-23T10:57:41.032717874+00:00" */
#define KC_LOG_TS_LEN 35
/* Timestamp, " stdout ", "F ": the per-record overhead --log-size-max accounts for. */
#define KC_LOG_RECORD_OVERHEAD 45

typedef int (*KcLogClock)(struct timespec *ret);

/* The result of parsing every -l value. */
typedef struct KcLogDrivers {
        bool k8s_file;
        char *k8s_path; /* the last k8s-file path */
        bool journald;
        bool passthrough;
        bool none;
} KcLogDrivers;

/* Parses the -l values like conmon. On a usage error returns -EINVAL and conmon's message. */
int kc_log_parse_drivers(char *const *values, KcLogDrivers *ret, char **ret_error);
/* Sets *ret_error to the formatted message (a usage error in conmon's words) and returns -EINVAL
 * (-ENOMEM if it cannot). */
int kc_log_usage_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
void kc_log_drivers_done(KcLogDrivers *d);

/* Formats ts in local time as conmon does; buf must hold KC_LOG_TS_LEN + 1 bytes.
 * Returns the length (KC_LOG_TS_LEN unless the year has more than 4 digits). */
size_t kc_log_format_timestamp(const struct timespec *ts, char *buf, size_t size);

/* ---- k8s-file driver (log-k8s.c) ---- */
typedef struct KcK8sLog KcK8sLog;

int kc_k8s_log_open(const KcLogOptions *opts, const char *path, KcK8sLog **ret);
void kc_k8s_log_write(KcK8sLog *l, KcStream stream, const struct timespec *ts, const char *buf, size_t len);
int kc_k8s_log_reopen(KcK8sLog *l);
void kc_k8s_log_sync(KcK8sLog *l);
void kc_k8s_log_free(KcK8sLog *l);
int64_t kc_k8s_log_total_bytes(const KcK8sLog *l);

/* ---- file replacement and rotation (log-rotate.c) ---- */
/* Creates a fresh empty file at path (path.tmp then rename), returns its fd. */
int kc_log_replace_file(const char *path, int *ret_fd);
/* Shifts path.(N-1) → path.N … path → path.1 and puts a fresh file at path, holding a write
 * lock on old_fd (the file being rotated, may be -EBADF). */
int kc_log_rotate_file(const char *path, int old_fd, int max_files, char *const *allowlist, int *ret_fd);
/* The safety checks done before rotating: no symlink, no world-writable parent without the
 * sticky bit, owned by us or root, inside an allowlisted dir (when a list is given). */
int kc_log_rotate_check(const char *path, char *const *allowlist);

/* ---- journald driver (log-journald.c) ---- */
typedef struct KcJournaldLog KcJournaldLog;

/* Maximum number of fields before labels. */
#define KC_JOURNALD_FIXED_FIELDS 8

int kc_journald_log_new(const KcLogOptions *opts, KcJournaldLog **ret);
void kc_journald_log_write(KcJournaldLog *j, KcStream stream, const char *buf, size_t len);
void kc_journald_log_flush(KcJournaldLog *j);
void kc_journald_log_free(KcJournaldLog *j);
/* Replaces sd_journal_sendv (tests). */
typedef int (*KcJournaldSend)(const struct iovec *iov, int n, void *userdata);
void kc_journald_log_set_sender(KcJournaldLog *j, KcJournaldSend send, void *userdata);

typedef struct KcJournaldFields {
        char *cid_full;   /* "CONTAINER_ID_FULL=..." */
        char *cid_short;  /* "CONTAINER_ID=..." */
        char *tag;        /* "CONTAINER_TAG=..." or NULL */
        char *name;       /* "CONTAINER_NAME=..." or NULL */
        char *identifier; /* "SYSLOG_IDENTIFIER=..." */
        char **labels;    /* "KEY=VALUE", NULL-terminated, may be NULL */
        bool no_partial;
} KcJournaldFields;

int kc_journald_fields_init(KcJournaldFields *f, const KcLogOptions *opts);
void kc_journald_fields_done(KcJournaldFields *f);
/* Strips a leading <0>..<7> from msg; returns the priority (or -1) and the offset to skip. */
int kc_journald_parse_priority(const char *msg, size_t len, size_t *ret_skip);
/* Pure: the fields of one record, in conmon's order, pointing into f, msg and msg_field.
 * msg_field receives "MESSAGE=" + msg (minus a <N> prefix when parse_prefix allows one, which
 * then sets PRIORITY instead of the stream's 6/3). Returns the number of iovecs filled, or 0 if
 * msg_field or iov is too small. */
size_t kc_journald_build_fields(const KcJournaldFields *f, KcStream stream, const char *msg, size_t len,
                                bool partial, bool parse_prefix, char *msg_field, size_t msg_field_size,
                                struct iovec *iov, size_t n_max);
/* Validates --log-label values like conmon; on error returns -EINVAL and the message. */
int kc_journald_check_labels(char *const *labels, char **ret_error);

/* ---- the set (logging.c) ---- */
void kc_log_set_clock(KcLogSet *set, KcLogClock clock);
KcK8sLog *kc_log_set_k8s(KcLogSet *set);
KcJournaldLog *kc_log_set_journald(KcLogSet *set);
