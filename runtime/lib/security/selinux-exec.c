/* Applying SELinux labels to the processes and sockets we create (libselinux when available). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "macro.h"
#include "selinux-exec.h"
#include "selinux-label.h"

#if HAVE_SELINUX
#include <selinux/selinux.h>
#endif

bool kc_selinux_enabled(void) {
#if HAVE_SELINUX
        return is_selinux_enabled() > 0;
#else
        struct statfs sfs;

        return statfs("/sys/fs/selinux", &sfs) == 0 && (unsigned long) sfs.f_type == SELINUX_MAGIC;
#endif
}

#if !HAVE_SELINUX
/* What libselinux does: write the label into /proc/thread-self/attr/<attr>. */
static int write_attr(const char *attr, const char *label) {
        char path[64];
        _cleanup_close_ int fd = -EBADF;
        size_t len = label ? strlen(label) : 0;
        ssize_t n;

        (void) snprintf(path, sizeof(path), "/proc/thread-self/attr/%s", attr);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        do
                n = write(fd, label ?: "", len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        return (size_t) n == len ? 0 : -EIO;
}
#endif

int kc_selinux_set_exec_label(const char *label) {
        if (!label || !*label)
                return 0;
        if (!kc_selinux_label_is_valid(label))
                return -EINVAL;
        if (!kc_selinux_enabled())
                return 0;
#if HAVE_SELINUX
        if (setexeccon(label) < 0)
                return negative_errno();
#else
        int r = write_attr("exec", label);
        if (r < 0)
                return r;
#endif
        return 1;
}

int kc_selinux_set_sockcreate_label(const char *label) {
        if (label && !*label)
                label = NULL;
        if (label && !kc_selinux_label_is_valid(label))
                return -EINVAL;
        if (!kc_selinux_enabled())
                return 0;
#if HAVE_SELINUX
        if (setsockcreatecon(label) < 0)
                return negative_errno();
#else
        int r = write_attr("sockcreate", label);
        if (r < 0)
                return r;
#endif
        return 1;
}

int kc_selinux_read_lxc_context(const char *key, char **ret) {
#if HAVE_SELINUX
        _cleanup_free_ char *text = NULL;
        const char *path = selinux_lxc_contexts_path();
        int r;

        if (!path)
                return -ENOENT;
        r = read_file_bounded(path, 64 * 1024, &text, NULL);
        if (r < 0)
                return r;
        return kc_selinux_lxc_contexts_lookup(text, key, ret);
#else
        return -EOPNOTSUPP;
#endif
}

int kc_selinux_vm_label_for_pod(const char *pod_label, char **ret) {
        _cleanup_(kc_selinux_label_done) KcSelinuxLabel kvm = {};
        _cleanup_free_ char *kvm_label = NULL;
        int r;

        if (!pod_label || !*pod_label) {
                *ret = NULL;
                return 0;
        }
        r = kc_selinux_read_lxc_context("kvm_process", &kvm_label);
        if (r == -ENOENT || r == -EOPNOTSUPP)
                return kc_selinux_vm_process_label(pod_label, NULL, ret);
        if (r < 0)
                return r;
        r = kc_selinux_label_parse(kvm_label, &kvm);
        if (r < 0)
                return r;
        return kc_selinux_vm_process_label(pod_label, kvm.type, ret);
}
