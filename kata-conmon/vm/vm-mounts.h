/* The sandbox's shared directory and the bind mounts that put rootfs trees into it. */
#pragma once

#include <stdbool.h>

/* S/shared: created, bind-mounted onto itself and made a shared mount of its own peer group, so
 * that later bind mounts reach virtiofsd's namespace. */
int kc_vm_shared_setup(const char *shared_dir);
/* Bind-mounts rootfs at <shared_dir>/<cid>/rootfs (read-only if asked). */
int kc_vm_rootfs_mount(const char *shared_dir, const char *cid, const char *rootfs, bool readonly);
/* Unmounts <shared_dir>/<cid>/rootfs and removes <shared_dir>/<cid>; missing is fine. */
int kc_vm_rootfs_umount(const char *shared_dir, const char *cid);
/* Unmounts everything under and at shared_dir, then removes the sandbox dir. */
int kc_vm_sandbox_dir_remove(const char *sandbox_dir);
