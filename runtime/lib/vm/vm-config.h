/* kata-conmon.conf: the VM runtime's configuration, its defaults, validation and annotation overrides. */
#pragma once

#include <glib.h>
#include <stdbool.h>

#define KC_VM_CONFIG_PATH "/etc/kata-conmon/kata-conmon.conf"
#define KC_VM_CONFIG_ENV "KATA_CONMON_CONF"
#define KC_VM_RUN_DIR_ENV "KATA_CONMON_VM_RUN_DIR"

#define KC_VM_MAX_VCPUS 240
#define KC_VM_MIN_MEMORY 64            /* MiB */
#define KC_VM_MAX_MEMORY (1024 * 1024) /* MiB */
#define KC_VM_MAX_KERNEL_PARAMS 2048   /* bytes */

typedef enum KcMachineType {
        KC_MACHINE_MICROVM,
        KC_MACHINE_Q35,
} KcMachineType;

typedef enum KcAccel {
        KC_ACCEL_KVM,
        KC_ACCEL_TCG,
        KC_ACCEL_AUTO, /* kvm when usable, else tcg: resolve with kc_vm_resolve_accel() */
} KcAccel;

typedef enum KcSharedFs {
        KC_SHARED_FS_VIRTIO_FS,
        KC_SHARED_FS_VIRTIO_9P,
        KC_SHARED_FS_NONE,
} KcSharedFs;

typedef struct KcVmConfig {
        /* [hypervisor.qemu] */
        char *qemu_path;
        char *kernel;
        char *initrd;
        KcMachineType machine_type;
        KcAccel accel;
        char *cpu_features;
        unsigned default_vcpus;
        unsigned default_maxvcpus; /* 0: as many as default_vcpus */
        unsigned default_memory;   /* MiB */
        KcSharedFs shared_fs;
        char *virtio_fs_daemon;
        char *virtio_fs_cache; /* auto, always, never */
        char **virtio_fs_extra_args;
        unsigned msize_9p;
        unsigned virtio_fs_read_ahead_kb; /* the guest's read-ahead on the shared dir; 0: kernel's */
        char *kernel_params;
        char **enable_annotations; /* regexes of annotation names users may set */
        char **valid_hypervisor_paths;
        char **valid_virtio_fs_daemon_paths;
        bool enable_debug;
        bool disable_selinux;
        /* [runtime] */
        char *runtime_root;
        char *vm_run_dir;
        char *image_cache_dir;
        unsigned vm_start_timeout; /* seconds */
        bool runtime_enable_debug;
        /* [agent.kata] */
        bool agent_enable_debug;
} KcVmConfig;

/* The built-in defaults (every key absent). */
KcVmConfig *kc_vm_config_new_default(void);
void kc_vm_config_free(KcVmConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KcVmConfig, kc_vm_config_free)

/* Parses GKeyFile text. Unknown keys and groups are warnings; a malformed file, a bad value
 * or a wrong type is an error, logged with the key and the reason. Returns 0 or -EINVAL. */
int kc_vm_config_load_data(const char *data, size_t len, const char *origin, KcVmConfig **ret);

/* Loads `path`. A missing file gives the defaults when `missing_ok`, else -ENOENT. */
int kc_vm_config_load_file(const char *path, bool missing_ok, KcVmConfig **ret);

/* Loads $KATA_CONMON_CONF (which must exist) or else KC_VM_CONFIG_PATH (optional), and
 * applies $KATA_CONMON_VM_RUN_DIR. */
int kc_vm_config_load(KcVmConfig **ret);

/* Validates the combination of values (also done by the loaders). */
int kc_vm_config_validate(const KcVmConfig *c, const char *origin);

/* Applies the io.katacontainers.config.* annotations of a sandbox (a string -> string table,
 * may be NULL) where enable_annotations allows them. Any other io.katacontainers.* annotation
 * (except the informational io.katacontainers.pkg.*) is rejected: -EPERM when not enabled,
 * -EINVAL for a bad value or an unsupported name, with the reason logged. On failure the
 * config may be partly modified: discard it. */
int kc_vm_config_apply_annotations(KcVmConfig *c, GHashTable *annotations);

const char *kc_machine_type_to_string(KcMachineType t);
int kc_machine_type_from_string(const char *s);
const char *kc_accel_to_string(KcAccel a);
int kc_accel_from_string(const char *s);
const char *kc_shared_fs_to_string(KcSharedFs f);
int kc_shared_fs_from_string(const char *s);

/* Pure: the accelerator to use given whether KVM is usable on this host. */
KcAccel kc_vm_resolve_accel(KcAccel configured, bool kvm_usable);

/* Host probes (not pure): can /dev/kvm run a guest; the host TSC frequency in kHz (0 if unknown).
 * TCG guests read the host TSC, so the guest kernel is told its frequency. */
bool kc_vm_kvm_usable(void);
unsigned kc_vm_host_tsc_khz(void);
