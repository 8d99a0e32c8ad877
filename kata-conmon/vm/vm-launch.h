/* virtiofsd's command line (pure) and starting QEMU and virtiofsd as our own children. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "reaper.h"
#include "vm-config.h"

/* Fixed fd numbers in the children (resources are passed as fds, never as paths to open). */
#define KC_VM_FD_CHANNEL 3    /* QEMU: agent channel (virtio-serial port agent.channel.0) */
#define KC_VM_FD_CONSOLE 4    /* QEMU: guest console (serial) */
#define KC_VM_FD_VFS_LISTEN 3 /* virtiofsd: its listening vhost-user socket */

/* virtiofsd's argv (virtio_fs_daemon, _cache, _extra_args): the Rust daemon's options unless the
 * daemon is QEMU's C one (.../qemu/virtiofsd). */
char **kc_vm_virtiofsd_argv(const KcVmConfig *c, const char *shared_dir);

/* Forks and execs argv with fds[i] as fd 3+i, stdin /dev/null, stdout+stderr on out_fd (or
 * /dev/null), PR_SET_PDEATHSIG(SIGKILL), nothing else inherited, under the SELinux label
 * exec_label when SELinux is on (NULL: the caller's own transition rules). */
int kc_vm_spawn(char **argv, const int *fds, size_t n_fds, int out_fd, const char *exec_label,
                const KcReaper *reaper, pid_t *ret);
