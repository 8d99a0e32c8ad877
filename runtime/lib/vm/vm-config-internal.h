/* The table of configuration keys, shared by the file parser and the annotation overrides. */
#pragma once

#include <string.h>

#include "vm-config.h"

#ifndef streq
#define streq(a, b) (strcmp((a), (b)) == 0)
#endif

typedef enum KcKeyType {
        KC_KEY_STRING,
        KC_KEY_PATH,
        KC_KEY_UINT,
        KC_KEY_BOOL,
        KC_KEY_MACHINE,
        KC_KEY_ACCEL,
        KC_KEY_SHARED_FS,
        KC_KEY_FS_CACHE,
        KC_KEY_STRV,
        KC_KEY_REGEXV,
} KcKeyType;

typedef struct KcVmKey {
        const char *group;
        const char *key;
        KcKeyType type;
        size_t offset;
        unsigned min, max; /* UINT range; STRING maximum length (0: 4096) */
} KcVmKey;

extern const KcVmKey kc_vm_keys[];

const KcVmKey *kc_vm_key_find(const char *group, const char *key);
int kc_vm_key_set(KcVmConfig *c, const KcVmKey *k, const char *value, const char *origin);
