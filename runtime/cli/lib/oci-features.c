/* What this runtime supports, as the OCI features document describes it: the guest's crun applies
 * namespaces, capabilities, cgroup v2, seccomp; hooks are not run (host hooks cannot reach the VM). */
#include <glib.h>

#include "config.h"
#include "oci-features.h"
#include "macro.h"

static const char *const mount_options[] = {
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "iversion",
        "lazytime",
        "loud",
        "mand",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "noiversion",
        "nolazytime",
        "nomand",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "nosymfollow",
        "private",
        "ratime",
        "rbind",
        "rdev",
        "rdiratime",
        "relatime",
        "remount",
        "rexec",
        "rnoatime",
        "rnodev",
        "rnodiratime",
        "rnoexec",
        "rnorelatime",
        "rnostrictatime",
        "rnosuid",
        "rnosymfollow",
        "ro",
        "rprivate",
        "rrelatime",
        "rro",
        "rrw",
        "rshared",
        "rslave",
        "rstrictatime",
        "rsuid",
        "rsymfollow",
        "runbindable",
        "rw",
        "shared",
        "silent",
        "slave",
        "strictatime",
        "suid",
        "symfollow",
        "sync",
        "tmpcopyup",
        "unbindable",
};

static const char *const namespaces[] = {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"};

static const char *const capabilities[] = {
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
};

static const char *const seccomp_actions[] = {
        "SCMP_ACT_ALLOW",        "SCMP_ACT_ERRNO",       "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",       "SCMP_ACT_TRACE",       "SCMP_ACT_TRAP",
};

static const char *const seccomp_operators[] = {
        "SCMP_CMP_EQ", "SCMP_CMP_GE",        "SCMP_CMP_GT", "SCMP_CMP_LE",
        "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
};

/* The guest is x86_64; its crun also filters the compat ABIs a container may use. */
static const char *const seccomp_archs[] = {"SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64"};

static const char *const seccomp_flags[] = {
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
};

static JsonArray *string_array(const char *const *v, size_t n) {
        JsonArray *a = json_array_sized_new(n);
        for (size_t i = 0; i < n; i++)
                json_array_add_string_element(a, v[i]);
        return a;
}
#define STRING_ARRAY(v) string_array((v), ELEMENTSOF(v))

static JsonObject *enabled(bool on) {
        JsonObject *o = json_object_new();
        json_object_set_boolean_member(o, "enabled", on);
        return o;
}

static JsonObject *linux_features(void) {
        JsonObject *lx = json_object_new(), *cgroup = json_object_new(), *seccomp = enabled(true);
        JsonObject *ext = json_object_new();

        json_object_set_array_member(lx, "namespaces", STRING_ARRAY(namespaces));
        json_object_set_array_member(lx, "capabilities", STRING_ARRAY(capabilities));

        /* Containers live in the guest's pure cgroup2 tree; host cgroup managers don't apply. */
        json_object_set_boolean_member(cgroup, "v1", false);
        json_object_set_boolean_member(cgroup, "v2", true);
        json_object_set_boolean_member(cgroup, "systemd", false);
        json_object_set_boolean_member(cgroup, "systemdUser", false);
        json_object_set_boolean_member(cgroup, "rdma", false);
        json_object_set_object_member(lx, "cgroup", cgroup);

        json_object_set_array_member(seccomp, "actions", STRING_ARRAY(seccomp_actions));
        json_object_set_array_member(seccomp, "operators", STRING_ARRAY(seccomp_operators));
        json_object_set_array_member(seccomp, "archs", STRING_ARRAY(seccomp_archs));
        json_object_set_array_member(seccomp, "knownFlags", STRING_ARRAY(seccomp_flags));
        json_object_set_array_member(seccomp, "supportedFlags", STRING_ARRAY(seccomp_flags));
        json_object_set_object_member(lx, "seccomp", seccomp);

        json_object_set_object_member(lx, "apparmor", enabled(false));
        /* process.selinuxLabel labels the pod's VM on the host (the guest has no SELinux). */
        json_object_set_object_member(lx, "selinux", enabled(HAVE_SELINUX));
        json_object_set_object_member(lx, "intelRdt", enabled(false));
        json_object_set_object_member(ext, "idmap", enabled(false));
        json_object_set_object_member(lx, "mountExtensions", ext);
        return lx;
}

JsonObject *kr_features_build(void) {
        JsonObject *o = json_object_new(), *ann = json_object_new();
        JsonArray *unsafe = json_array_new();

        json_object_set_string_member(o, "ociVersionMin", KR_OCI_VERSION_MIN);
        json_object_set_string_member(o, "ociVersionMax", KR_OCI_VERSION_MAX);
        /* Hooks are dropped: host hooks cannot act inside the VM (docs/protocol.md, translation). */
        json_object_set_array_member(o, "hooks", json_array_new());
        json_object_set_array_member(o, "mountOptions", STRING_ARRAY(mount_options));
        json_object_set_object_member(o, "linux", linux_features());

        json_object_set_string_member(ann, "io.github.kata-conmon.version", PACKAGE_VERSION);
        json_object_set_string_member(ann, "io.github.kata-conmon.commit", GIT_COMMIT);
        json_object_set_object_member(o, "annotations", ann);

        /* io.katacontainers.* annotations may change the VM (as far as enable_annotations allows). */
        json_array_add_string_element(unsafe, "io.katacontainers.");
        json_object_set_array_member(o, "potentiallyUnsafeConfigAnnotations", unsafe);
        return o;
}
