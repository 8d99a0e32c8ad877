/* kata-runtime's diagnostics: stderr, --log FILE as text or JSON lines, journald when present. */
#pragma once

#include <stdbool.h>

typedef enum KrLogFormat {
        KR_LOG_TEXT,
        KR_LOG_JSON,
} KrLogFormat;

int kr_log_format_from_string(const char *s, KrLogFormat *ret);

/* Formats one record as written to --log: text "time=... level=... msg=..." or a JSON line
 * {"level":...,"msg":...,"time":...}. Returns a newly allocated line ending in '\n'. */
char *kr_log_format_line(KrLogFormat format, int priority, const char *message, const char *time);

/* Installs the sink: errors and warnings always reach stderr (CRI-O reads it); every record at or
 * above the level also goes to the --log file when one is given. */
int kr_log_setup(const char *log_path, KrLogFormat format, bool debug);
void kr_log_close(void);
