/* SELinux label arithmetic (pure): parse and validate labels, derive the VM and mount labels. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "selinux-label.h"

/* Category and sensitivity numbers every MCS/MLS policy we know declares (c0..c1023). */
#define KC_SELINUX_NUMBER_MAX 1023

void kc_selinux_label_done(KcSelinuxLabel *label) {
        if (!label)
                return;
        free(label->user);
        free(label->role);
        free(label->type);
        free(label->level);
        *label = (KcSelinuxLabel){};
}

static bool identifier_is_valid(const char *s, size_t n) {
        if (n == 0 || n > 255)
                return false;
        if (!isalpha((unsigned char) s[0]) && s[0] != '_')
                return false;
        for (size_t i = 1; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

/* Parses a canonical decimal (no sign, no leading zero) in [0, KC_SELINUX_NUMBER_MAX]. */
static const char *parse_number(const char *p, int *ret) {
        int v = 0;
        const char *start = p;

        if (!isdigit((unsigned char) *p))
                return NULL;
        if (p[0] == '0' && isdigit((unsigned char) p[1]))
                return NULL;
        for (; isdigit((unsigned char) *p); p++) {
                v = v * 10 + (*p - '0');
                if (v > KC_SELINUX_NUMBER_MAX || p - start >= 4)
                        return NULL;
        }
        *ret = v;
        return p;
}

/* sN[:cats]; returns the end of what it consumed or NULL. */
static const char *parse_level(const char *p, int *ret_sensitivity) {
        int sens;

        if (*p != 's')
                return NULL;
        p = parse_number(p + 1, &sens);
        if (!p)
                return NULL;
        if (*p == ':') {
                p++;
                for (;;) {
                        int lo, hi;

                        if (*p != 'c')
                                return NULL;
                        p = parse_number(p + 1, &lo);
                        if (!p)
                                return NULL;
                        if (*p == '.') {
                                if (p[1] != 'c')
                                        return NULL;
                                p = parse_number(p + 2, &hi);
                                if (!p || hi <= lo)
                                        return NULL;
                        }
                        if (*p != ',')
                                break;
                        p++;
                }
        }
        *ret_sensitivity = sens;
        return p;
}

bool kc_selinux_level_is_valid(const char *level) {
        int low, high;
        const char *p;

        if (!level || strlen(level) > KC_SELINUX_LABEL_MAX)
                return false;
        p = parse_level(level, &low);
        if (!p)
                return false;
        if (*p == '-') {
                p = parse_level(p + 1, &high);
                if (!p || high < low)
                        return false;
        }
        return *p == '\0';
}

int kc_selinux_label_parse(const char *text, KcSelinuxLabel *ret) {
        const char *fields[3], *p;
        size_t lens[3];
        KcSelinuxLabel l = {};

        if (!text || strlen(text) > KC_SELINUX_LABEL_MAX)
                return -EINVAL;

        p = text;
        for (size_t i = 0; i < 3; i++) {
                const char *colon = i < 2 ? strchr(p, ':') : strchrnul(p, ':');
                if (!colon)
                        return -EINVAL;
                fields[i] = p;
                lens[i] = colon - p;
                if (!identifier_is_valid(fields[i], lens[i]))
                        return -EINVAL;
                p = *colon ? colon + 1 : colon;
        }
        /* "user:role:type:" (an empty level) is as wrong as a bad one. */
        if (p > text && p[-1] == ':' && !kc_selinux_level_is_valid(p))
                return -EINVAL;

        if (!ret)
                return 0;
        l.user = strndup(fields[0], lens[0]);
        l.role = strndup(fields[1], lens[1]);
        l.type = strndup(fields[2], lens[2]);
        l.level = p[-1] == ':' ? strdup(p) : NULL;
        if (!l.user || !l.role || !l.type || (p[-1] == ':' && !l.level)) {
                kc_selinux_label_done(&l);
                return -ENOMEM;
        }
        *ret = l;
        return 0;
}

bool kc_selinux_label_is_valid(const char *text) {
        return kc_selinux_label_parse(text, NULL) == 0;
}

int kc_selinux_label_format(const KcSelinuxLabel *label, char **ret) {
        char *s;
        int r;

        if (!label || !label->user || !label->role || !label->type)
                return -EINVAL;
        if (label->level)
                r = asprintf(&s, "%s:%s:%s:%s", label->user, label->role, label->type, label->level);
        else
                r = asprintf(&s, "%s:%s:%s", label->user, label->role, label->type);
        if (r < 0)
                return -ENOMEM;
        if (!kc_selinux_label_is_valid(s)) {
                free(s);
                return -EINVAL;
        }
        *ret = s;
        return 0;
}

/* Replaces role (if role != NULL) and type of label, keeping user and level. */
static int relabel(const char *label, const char *role, const char *type, char **ret) {
        _cleanup_(kc_selinux_label_done) KcSelinuxLabel l = {};
        char *s = NULL;
        int r;

        if (!label || !*label) {
                *ret = NULL;
                return 0;
        }
        if (!identifier_is_valid(type, strlen(type)) || (role && !identifier_is_valid(role, strlen(role))))
                return -EINVAL;
        r = kc_selinux_label_parse(label, &l);
        if (r < 0)
                return r;

        free(l.type);
        l.type = strdup(type);
        if (!l.type)
                return -ENOMEM;
        if (role) {
                free(l.role);
                l.role = strdup(role);
                if (!l.role)
                        return -ENOMEM;
        }
        r = kc_selinux_label_format(&l, &s);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

int kc_selinux_vm_process_label(const char *pod_label, const char *kvm_type, char **ret) {
        return relabel(pod_label, NULL, kvm_type ?: KC_SELINUX_KVM_TYPE, ret);
}

int kc_selinux_file_label(const char *process_label, const char *file_type, char **ret) {
        return relabel(process_label, KC_SELINUX_OBJECT_ROLE, file_type ?: KC_SELINUX_FILE_TYPE, ret);
}

static bool options_have_context(const char *options) {
        static const char *const names[] = {"context=", "fscontext=", "defcontext=", "rootcontext="};
        const char *p = options;

        while (p && *p) {
                size_t n = strcspn(p, ",");
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (strncmp(p, names[i], strlen(names[i])) == 0)
                                return true;
                p += n;
                if (*p == ',')
                        p++;
        }
        return false;
}

int kc_selinux_mount_options(const char *options, const char *mount_label, char **ret) {
        char *s;
        int r;

        if (!options)
                options = "";
        if (!mount_label || !*mount_label) {
                s = strdup(options);
                if (!s)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }
        /* The label is written between double quotes: refuse anything that could close them. */
        if (!kc_selinux_label_is_valid(mount_label))
                return -EINVAL;
        if (options_have_context(options))
                return -EEXIST;

        r = asprintf(&s, "%s%scontext=\"%s\"", options, *options ? "," : "", mount_label);
        if (r < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int kc_selinux_lxc_contexts_lookup(const char *text, const char *key, char **ret) {
        size_t keylen;

        if (!text || !key || !*key)
                return -EINVAL;
        keylen = strlen(key);

        for (const char *line = text; line && *line;) {
                const char *end = strchrnul(line, '\n');
                const char *p = line, *vend;
                char *v;

                while (p < end && isspace((unsigned char) *p))
                        p++;
                if (p < end && *p != '#' && (size_t) (end - p) > keylen && strncmp(p, key, keylen) == 0) {
                        p += keylen;
                        while (p < end && isspace((unsigned char) *p))
                                p++;
                        if (p < end && *p == '=') {
                                p++;
                                while (p < end && isspace((unsigned char) *p))
                                        p++;
                                vend = end;
                                while (vend > p && isspace((unsigned char) vend[-1]))
                                        vend--;
                                if (vend - p >= 2 && *p == '"' && vend[-1] == '"') {
                                        p++;
                                        vend--;
                                }
                                v = strndup(p, vend - p);
                                if (!v)
                                        return -ENOMEM;
                                if (!kc_selinux_label_is_valid(v)) {
                                        free(v);
                                        return -EINVAL;
                                }
                                *ret = v;
                                return 0;
                        }
                }
                line = *end ? end + 1 : NULL;
        }
        return -ENOENT;
}
