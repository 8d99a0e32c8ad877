/* The QEMU command line of a sandbox VM, built purely from the configuration and per-sandbox parameters. */
#pragma once

#include "vm-config.h"

#define KC_VM_AGENT_PORT "agent.channel.0"
#define KC_VM_SHARED_TAG "kataShared"

/* A host end QEMU connects to: an inherited socket fd (preferred: nothing QEMU opens by path),
 * or a unix socket path QEMU listens on. Exactly one must be set. */
typedef struct KcVmEndpoint {
        int fd;           /* -1: not an fd */
        const char *path; /* NULL: not a path */
} KcVmEndpoint;

#define KC_VM_ENDPOINT_NONE ((KcVmEndpoint){.fd = -1, .path = NULL})

/* A virtio-net NIC backed by a tap fd inherited by QEMU (tcfilter networking). */
typedef struct KcVmNic {
        int tap_fd;      /* the fd number in QEMU */
        const char *mac; /* "xx:xx:xx:xx:xx:xx" */
} KcVmNic;

#define KC_VM_MAX_NICS 8

typedef struct KcVmParams {
        const char *sandbox_id;       /* required: [A-Za-z0-9][A-Za-z0-9_.-]{0,127} */
        KcAccel accel;                /* kvm or tcg (resolve auto before) */
        KcVmEndpoint agent;           /* the agent.channel.0 virtio-serial port; required */
        KcVmEndpoint console;         /* the guest's serial console (kernel + agent diagnostics); required */
        KcVmEndpoint qmp;             /* optional QMP monitor */
        const char *virtio_fs_socket; /* vhost-user socket of virtiofsd (shared_fs = virtio-fs) */
        const char *shared_dir;       /* host directory exported with 9p (shared_fs = virtio-9p) */
        unsigned vcpus;               /* 0: default_vcpus */
        unsigned memory_mib;          /* 0: default_memory */
        unsigned host_tsc_khz;        /* TCG: the guest's TSC frequency (0: let the guest calibrate) */
        const KcVmNic *nics;          /* n_nics NICs (none: the VM has no network device) */
        size_t n_nics;
} KcVmParams;

/* Returns the NULL-terminated argv (argv[0] = the QEMU binary) in *ret_argv, or -EINVAL with the
 * reason logged when the parameters do not fit the configuration. Does no I/O. */
int kc_vm_qemu_argv(const KcVmConfig *c, const KcVmParams *p, char ***ret_argv);

/* The kernel command line alone (part of the argv above). */
char *kc_vm_kernel_cmdline(const KcVmConfig *c, const KcVmParams *p);
