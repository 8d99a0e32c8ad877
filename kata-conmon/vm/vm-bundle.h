/* The VM engine's view of an OCI bundle: role, sandbox id, rootfs, annotations (pure). */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>

#define KC_ANNOTATION_CONTAINER_TYPE "io.kubernetes.cri-o.ContainerType"
#define KC_ANNOTATION_SANDBOX_ID "io.kubernetes.cri-o.SandboxID"

typedef enum KcVmRole {
        KC_VM_ROLE_SANDBOX,
        KC_VM_ROLE_CONTAINER,
} KcVmRole;

typedef struct KcVmBundle {
        JsonObject *spec;        /* the whole config.json */
        JsonObject *annotations; /* borrowed from spec; never NULL after parsing (may be empty) */
        KcVmRole role;
        char *sandbox_id; /* container role: the pod's sandbox; sandbox role: the own id */
        char *root_path;  /* absolute rootfs path */
        bool root_readonly;
} KcVmBundle;

void kc_vm_bundle_done(KcVmBundle *b);

/* Parses config.json text for container cid of bundle directory bundle_dir. Errors (-EINVAL)
 * come with a one-line message in *ret_error for the caller's sync pipe. */
int kc_vm_bundle_parse(const char *text, size_t len, const char *bundle_dir, const char *cid,
                       KcVmBundle *ret, char **ret_error);
int kc_vm_bundle_load(const char *bundle_dir, const char *cid, KcVmBundle *ret, char **ret_error);

/* The annotations as a string -> string table (for kc_vm_config_apply_annotations). */
GHashTable *kc_vm_bundle_annotation_table(const KcVmBundle *b);
