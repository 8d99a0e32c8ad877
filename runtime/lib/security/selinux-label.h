/* SELinux label arithmetic (pure): parse and validate labels, derive the VM and mount labels. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The process type QEMU and virtiofsd run under (container-selinux's kvm_process). */
#define KC_SELINUX_KVM_TYPE "container_kvm_t"
/* The object type of the pod's shared content (container-selinux's file context). */
#define KC_SELINUX_FILE_TYPE "container_file_t"
#define KC_SELINUX_OBJECT_ROLE "object_r"

/* Longest label we accept; the kernel takes a page, CRI-O's are under 100 bytes. */
#define KC_SELINUX_LABEL_MAX 1024

typedef struct KcSelinuxLabel {
        char *user;
        char *role;
        char *type;
        char *level; /* MLS/MCS range, e.g. "s0:c1,c2" or "s0-s0:c0.c1023"; NULL if absent */
} KcSelinuxLabel;

void kc_selinux_label_done(KcSelinuxLabel *label);

/* Splits "user:role:type[:level]" and validates every field: identifiers are
 * [A-Za-z_][A-Za-z0-9_.-]*, the level is "sN[:cats][-sN[:cats]]" with cats a comma list of
 * "cN" or "cN.cM" (N < M <= 1023). Returns 0, or -EINVAL for anything malformed (also
 * empty strings, whitespace, control characters, over-long labels). */
int kc_selinux_label_parse(const char *text, KcSelinuxLabel *ret);
/* Validates a label without keeping its parts. */
bool kc_selinux_label_is_valid(const char *text);
/* Validates an MLS/MCS level or range on its own. */
bool kc_selinux_level_is_valid(const char *level);
/* Formats a label back into "user:role:type[:level]". */
int kc_selinux_label_format(const KcSelinuxLabel *label, char **ret);

/* Computes the label QEMU runs under from the sandbox's process.selinuxLabel: the same
 * user, role and level with the type replaced by kvm_type (KC_SELINUX_KVM_TYPE if NULL),
 * as CRI-O does for kernel-separated runtimes. A NULL or empty pod label means "no label"
 * (SELinux not in use for this pod): returns 0 and sets *ret to NULL. Malformed: -EINVAL. */
int kc_selinux_vm_process_label(const char *pod_label, const char *kvm_type, char **ret);

/* Computes the file label of the pod's shared content from a process label:
 * "<user>:object_r:<file_type>:<level>" (file_type KC_SELINUX_FILE_TYPE if NULL). Used when
 * the spec carries no linux.mountLabel. NULL/empty → 0 with *ret NULL; malformed: -EINVAL. */
int kc_selinux_file_label(const char *process_label, const char *file_type, char **ret);

/* Appends the SELinux context= option for mount_label to a mount option string
 * (options may be NULL or empty). The label is quoted, since MCS levels contain commas,
 * which the kernel would otherwise take for option separators. A NULL/empty mount label
 * yields a copy of options. Returns -EINVAL for a malformed label, -EEXIST if options
 * already carry a context/fscontext/defcontext/rootcontext option. */
int kc_selinux_mount_options(const char *options, const char *mount_label, char **ret);

/* Finds the label for key (e.g. "kvm_process") in the text of an lxc_contexts file
 * ("key = \"label\"" lines, '#' comments). Returns 0, -ENOENT if the key is absent,
 * -EINVAL if its value is not a valid label. */
int kc_selinux_lxc_contexts_lookup(const char *text, const char *key, char **ret);
