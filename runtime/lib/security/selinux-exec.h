/* Applying SELinux labels to the processes and sockets we create (libselinux when available). */
#pragma once

#include <stdbool.h>

/* Whether SELinux is enabled on this host (is_selinux_enabled(); without libselinux,
 * whether selinuxfs is mounted). */
bool kc_selinux_enabled(void);

/* Sets the label the next execve() of this thread runs under. Meant for a forked child
 * right before it execs QEMU or virtiofsd: the label stays pending until execve().
 * label NULL/empty, or SELinux disabled: nothing to do, returns 0. Returns 1 when the
 * label was set, -EINVAL for a malformed label, -errno if the kernel refused it (e.g. a
 * type the policy lacks). Never logs: the caller logs, in the parent if need be. */
int kc_selinux_set_exec_label(const char *label);

/* Sets the label of sockets this thread creates from now on (setsockcreatecon), so that a
 * socket the VM connects to carries the pod's level. NULL resets to the default.
 * Same return convention as kc_selinux_set_exec_label(). */
int kc_selinux_set_sockcreate_label(const char *label);

/* Reads the label for key (e.g. "kvm_process") from the policy's lxc_contexts file
 * (selinux_lxc_contexts_path()). -ENOENT if there is no such file or key, -EOPNOTSUPP
 * without libselinux. */
int kc_selinux_read_lxc_context(const char *key, char **ret);

/* The label QEMU and virtiofsd run under for a pod: the pod's process.selinuxLabel with
 * the type of the policy's kvm_process (lxc_contexts; KC_SELINUX_KVM_TYPE when the policy
 * has none, as on Debian, or without libselinux). Call it in the parent, before fork().
 * NULL/empty pod label: 0 with *ret NULL. -EINVAL for a malformed pod label or a
 * malformed kvm_process entry. */
int kc_selinux_vm_label_for_pod(const char *pod_label, char **ret);
