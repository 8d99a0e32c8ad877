/* Parsing of the -l/--log-path values into a set of drivers, with conmon's exact errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log-internal.h"

int kc_log_usage_error(char **ret_error, const char *fmt, ...) {
        va_list ap;
        char *m = NULL;
        int r;

        if (!ret_error)
                return -EINVAL;
        va_start(ap, fmt);
        r = vasprintf(&m, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        *ret_error = m;
        return -EINVAL;
}

static bool is_none(const char *driver) {
        return strcmp(driver, "none") == 0 || strcmp(driver, "off") == 0 || strcmp(driver, "null") == 0;
}

/* conmon splits with strtok(":"), so empty fields vanish and only the first two non-empty
 * fields count; a leading ':' with a single field names a k8s-file path (":journald"). */
static int parse_one(const char *value, KcLogDrivers *d, char **ret_error) {
        _cleanup_free_ char *copy = strdup(value);
        char *save = NULL, *driver, *path;
        const char *delim;

        if (!copy)
                return -ENOMEM;
        delim = strchr(value, ':');
        driver = strtok_r(copy, ":", &save);
        path = driver ? strtok_r(NULL, ":", &save) : NULL;

        if (!driver)
                return kc_log_usage_error(ret_error, "log-path must not be empty");

        if (!path && delim == value) {
                path = driver;
                driver = (char *) "k8s-file";
        }

        if (is_none(driver)) {
                d->none = true;
                return 0;
        }
        if (strcmp(driver, "passthrough") == 0) {
                d->passthrough = true;
                return 0;
        }
        if (strcmp(driver, "journald") == 0) {
                d->journald = true;
                return 0;
        }
        if (strcmp(driver, "k8s-file") == 0) {
                if (!path)
                        return kc_log_usage_error(ret_error, "k8s-file requires a filename");
        } else if (!path && !delim) {
                path = driver;
        } else
                return kc_log_usage_error(ret_error, "No such log driver %s", driver);

        char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        free(d->k8s_path);
        d->k8s_path = p;
        d->k8s_file = true;
        return 0;
}

int kc_log_parse_drivers(char *const *values, KcLogDrivers *ret, char **ret_error) {
        KcLogDrivers d = {};
        int r;

        if (!values || !values[0])
                return kc_log_usage_error(ret_error, "Log driver not provided. Use --log-path");

        for (size_t i = 0; values[i]; i++) {
                r = parse_one(values[i], &d, ret_error);
                if (r < 0) {
                        kc_log_drivers_done(&d);
                        return r;
                }
        }
        *ret = d;
        return 0;
}

void kc_log_drivers_done(KcLogDrivers *d) {
        free(d->k8s_path);
        *d = (KcLogDrivers){};
}
