/* The seccomp filter of the container stand-in: a process that only waits and forwards signals. */
#pragma once

#include <stddef.h>

/* The system calls the stand-in may make (NULL-terminated): signal handling, waiting,
 * writing the signal number to the monitor's pipe, reading its own pid, exiting. On top of
 * these, kill/tgkill/tkill are allowed with the caller's own pid/tid only (raise()), so
 * the stand-in can die of the guest process's signal. Every other call fails with EPERM. */
extern const char *const kc_seccomp_standin_syscalls[];

/* Builds and loads the stand-in filter into the calling process (a forked child; the
 * kill/tgkill rules carry its pid, so build it in the process that uses it).
 * The filter sets NO_NEW_PRIVS, which is harmless here because the stand-in never execs;
 * never call this in a child that will exec QEMU under an SELinux transition (see
 * docs/selinux.md). Returns 0, -EOPNOTSUPP when built without libseccomp, or -errno.
 * Never logs. */
int kc_seccomp_apply_standin(void);

/* Writes the stand-in filter in libseccomp's pseudo-filter-code text to fd (debugging,
 * `kata-runtime env`-style dumps). -EOPNOTSUPP without libseccomp. */
int kc_seccomp_export_standin(int fd);
