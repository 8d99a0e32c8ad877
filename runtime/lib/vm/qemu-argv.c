/* Builds the QEMU argv of a sandbox VM (no I/O): machine, memory, kernel, console, agent port, shared fs. */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "qemu-argv.h"
#include "vm-config-internal.h"

#define SANDBOX_ID_MAX 128

/* QEMU splits option values at ','; a literal comma is written twice. */
static char *qemu_escape(const char *s) {
        GString *out = g_string_sized_new(strlen(s) + 8);

        for (; *s; s++) {
                g_string_append_c(out, *s);
                if (*s == ',')
                        g_string_append_c(out, ',');
        }
        return g_string_free(out, false);
}

static bool valid_sandbox_id(const char *id) {
        size_t n;

        if (!id || !g_ascii_isalnum(id[0]))
                return false;
        n = strlen(id);
        if (n > SANDBOX_ID_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!g_ascii_isalnum(id[i]) && !strchr("_.-", id[i]))
                        return false;
        return true;
}

static int check_endpoint(const KcVmEndpoint *e, const char *what, bool required) {
        bool has_fd = e->fd >= 0, has_path = e->path != NULL;

        if (has_fd && has_path)
                return log_error_errno(EINVAL, "QEMU %s: both an fd and a path given", what);
        if (!has_fd && !has_path && required)
                return log_error_errno(EINVAL, "QEMU %s: neither an fd nor a path given", what);
        if (has_path && e->path[0] != '/')
                return log_error_errno(EINVAL, "QEMU %s: '%s' is not an absolute path", what, e->path);
        return 0;
}

/* "socket,id=ID,fd=N" or "socket,id=ID,path=P,server=on,wait=off" */
static char *chardev_socket(const char *id, const KcVmEndpoint *e) {
        g_autofree char *path = NULL;

        if (e->fd >= 0)
                return g_strdup_printf("socket,id=%s,fd=%d", id, e->fd);
        path = qemu_escape(e->path);
        return g_strdup_printf("socket,id=%s,path=%s,server=on,wait=off", id, path);
}

char *kc_vm_kernel_cmdline(const KcVmConfig *c, const KcVmParams *p) {
        GString *s =
                g_string_new("console=ttyS0 panic=1 tsc=reliable no_timer_check rcupdate.rcu_expedited=1 "
                             "noreplace-smp cryptomgr.notests net.ifnames=0 selinux=0 cgroup_no_v1=all");
        KcAccel accel = p->accel;

        if (c->machine_type == KC_MACHINE_MICROVM)
                /* No PCI bus: don't probe for one. Reboot falls back to a triple fault. */
                g_string_append(s, " pci=off");
        else
                g_string_append(s, " reboot=k i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 "
                                   "pci=lastbus=0");
        /* Under TCG the guest reads the host's TSC; calibrating it against the emulated PIT fails
         * on a busy host and the guest then hangs at boot. Tell the guest the frequency instead. */
        if (accel == KC_ACCEL_TCG && p->host_tsc_khz > 0)
                g_string_append_printf(s, " tsc_early_khz=%u", p->host_tsc_khz);
        /* TCG retranslates code mapped at a new address: the agent runs crun unrandomised (the
         * container's own processes keep address space randomisation). */
        if (accel == KC_ACCEL_TCG)
                g_string_append(s, " agent.runtime_aslr=off");
        g_string_append(s, c->enable_debug ? " debug" : " quiet");
        if (c->agent_enable_debug)
                g_string_append(s, " agent.log=debug");
        if (c->kernel_params && c->kernel_params[0])
                g_string_append_printf(s, " %s", c->kernel_params);
        return g_string_free(s, false);
}

static bool valid_mac(const char *m) {
        if (!m || strlen(m) != 17)
                return false;
        for (int i = 0; i < 17; i++)
                if (i % 3 == 2 ? m[i] != ':' : !g_ascii_isxdigit(m[i]))
                        return false;
        /* A NIC's own address is unicast (the low bit of the first octet is the group bit). */
        return (g_ascii_xdigit_value(m[1]) & 1) == 0;
}

static void add(GPtrArray *a, const char *opt, char *value) {
        g_ptr_array_add(a, g_strdup(opt));
        if (value)
                g_ptr_array_add(a, value);
}

int kc_vm_qemu_argv(const KcVmConfig *c, const KcVmParams *p, char ***ret_argv) {
        g_autoptr(GPtrArray) a = NULL;
        bool microvm = c->machine_type == KC_MACHINE_MICROVM;
        unsigned vcpus = p->vcpus ? p->vcpus : c->default_vcpus;
        unsigned maxvcpus = c->default_maxvcpus ? c->default_maxvcpus : vcpus;
        unsigned mem = p->memory_mib ? p->memory_mib : c->default_memory;
        bool shared_mem = c->shared_fs == KC_SHARED_FS_VIRTIO_FS;
        g_autofree char *machine_extra = NULL;
        int r;

        if (!valid_sandbox_id(p->sandbox_id))
                return log_error_errno(EINVAL, "QEMU: invalid sandbox id '%s'",
                                       p->sandbox_id ? p->sandbox_id : "");
        if (p->accel != KC_ACCEL_KVM && p->accel != KC_ACCEL_TCG)
                return log_error_errno(EINVAL, "QEMU: accelerator must be resolved to kvm or tcg");
        if (vcpus < 1 || vcpus > KC_VM_MAX_VCPUS)
                return log_error_errno(EINVAL, "QEMU: %u vCPUs is out of range 1..%d", vcpus,
                                       KC_VM_MAX_VCPUS);
        if (maxvcpus < vcpus) {
                if (microvm || c->default_maxvcpus == 0)
                        maxvcpus = vcpus;
                else
                        return log_error_errno(EINVAL, "QEMU: %u vCPUs exceed default_maxvcpus %u", vcpus,
                                               maxvcpus);
        }
        if (microvm)
                maxvcpus = vcpus; /* no CPU hot-plug on microvm */
        if (mem < KC_VM_MIN_MEMORY || mem > KC_VM_MAX_MEMORY)
                return log_error_errno(EINVAL, "QEMU: %u MiB of memory is out of range %d..%d", mem,
                                       KC_VM_MIN_MEMORY, KC_VM_MAX_MEMORY);
        if ((r = check_endpoint(&p->agent, "agent channel", true)) < 0 ||
            (r = check_endpoint(&p->console, "console", true)) < 0 ||
            (r = check_endpoint(&p->qmp, "QMP socket", false)) < 0)
                return r;
        if (c->shared_fs == KC_SHARED_FS_VIRTIO_FS &&
            (!p->virtio_fs_socket || p->virtio_fs_socket[0] != '/'))
                return log_error_errno(
                        EINVAL, "QEMU: shared_fs virtio-fs needs the absolute path of virtiofsd's socket");
        if (c->shared_fs == KC_SHARED_FS_VIRTIO_9P && (!p->shared_dir || p->shared_dir[0] != '/'))
                return log_error_errno(
                        EINVAL, "QEMU: shared_fs virtio-9p needs the absolute path of the shared directory");
        if (p->n_nics > KC_VM_MAX_NICS)
                return log_error_errno(EINVAL, "QEMU: %zu NICs exceed the maximum of %d", p->n_nics,
                                       KC_VM_MAX_NICS);
        for (size_t i = 0; i < p->n_nics; i++) {
                if (p->nics[i].tap_fd < 0)
                        return log_error_errno(EINVAL, "QEMU: NIC %zu has no tap fd", i);
                if (!valid_mac(p->nics[i].mac))
                        return log_error_errno(EINVAL, "QEMU: NIC %zu: '%s' is not a unicast MAC address", i,
                                               p->nics[i].mac ? p->nics[i].mac : "");
        }
        if (!c->qemu_path || !c->kernel || !c->initrd)
                return log_error_errno(EINVAL, "QEMU: path, kernel and initrd must be configured");

        a = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(a, g_strdup(c->qemu_path));
        add(a, "-name", g_strdup_printf("sandbox-%s", p->sandbox_id));

        if (microvm)
                machine_extra = g_strdup(",isa-serial=on,rtc=on");
        add(a, "-machine",
            g_strdup_printf("%s,accel=%s%s%s", microvm ? "microvm" : "q35", kc_accel_to_string(p->accel),
                            machine_extra ? machine_extra : "", shared_mem ? ",memory-backend=kc-ram" : ""));
        if (p->accel == KC_ACCEL_KVM)
                add(a, "-cpu",
                    c->cpu_features[0] ? g_strdup_printf("host,%s", c->cpu_features) : g_strdup("host"));
        else
                add(a, "-cpu", g_strdup("max"));
        add(a, "-m", g_strdup_printf("%uM", mem));
        if (shared_mem)
                /* vhost-user devices need guest RAM the daemon can map. */
                add(a, "-object", g_strdup_printf("memory-backend-memfd,id=kc-ram,size=%uM,share=on", mem));
        if (maxvcpus > vcpus)
                add(a, "-smp",
                    g_strdup_printf("%u,cores=1,threads=1,sockets=%u,maxcpus=%u", vcpus, maxvcpus,
                                    maxvcpus));
        else
                add(a, "-smp", g_strdup_printf("%u", vcpus));

        add(a, "-nodefaults", NULL);
        add(a, "-no-user-config", NULL);
        add(a, "-nographic", NULL);
        add(a, "-no-reboot", NULL);
        add(a, "-sandbox",
            g_strdup("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"));
        add(a, "-rtc", g_strdup("base=utc,driftfix=slew,clock=host"));
        if (!microvm && p->accel == KC_ACCEL_KVM)
                add(a, "-global", g_strdup("kvm-pit.lost_tick_policy=discard"));
        if (microvm)
                /* microvm's virtio-mmio transport defaults to legacy virtio, which vhost-user
                 * devices (virtiofsd) refuse. */
                add(a, "-global", g_strdup("virtio-mmio.force-legacy=false"));

        add(a, "-kernel", g_strdup(c->kernel));
        add(a, "-initrd", g_strdup(c->initrd));
        add(a, "-append", kc_vm_kernel_cmdline(c, p));

        /* The serial console carries the kernel's messages from the first line on (virtio
         * console drivers are modules in distribution kernels) and the agent's diagnostics. */
        add(a, "-chardev", chardev_socket("kc-console", &p->console));
        add(a, "-serial", g_strdup("chardev:kc-console"));

        add(a, "-device",
            g_strdup(microvm ? "virtio-serial-device,id=kc-serial" : "virtio-serial-pci,id=kc-serial"));
        add(a, "-chardev", chardev_socket("kc-agent", &p->agent));
        add(a, "-device",
            g_strdup("virtserialport,bus=kc-serial.0,chardev=kc-agent,id=kc-channel0,"
                     "name=" KC_VM_AGENT_PORT));

        if (c->shared_fs == KC_SHARED_FS_VIRTIO_FS) {
                g_autofree char *sock = qemu_escape(p->virtio_fs_socket);

                add(a, "-chardev", g_strdup_printf("socket,id=kc-virtiofs,path=%s", sock));
                add(a, "-device",
                    g_strdup_printf("%s,chardev=kc-virtiofs,tag=" KC_VM_SHARED_TAG ",queue-size=1024",
                                    microvm ? "vhost-user-fs-device" : "vhost-user-fs-pci"));
        } else if (c->shared_fs == KC_SHARED_FS_VIRTIO_9P) {
                g_autofree char *dir = qemu_escape(p->shared_dir);

                add(a, "-fsdev",
                    g_strdup_printf("local,id=kc-9p,path=%s,security_model=none,multidevs=remap", dir));
                add(a, "-device",
                    g_strdup_printf("%s,fsdev=kc-9p,mount_tag=" KC_VM_SHARED_TAG,
                                    microvm ? "virtio-9p-device" : "virtio-9p-pci"));
        }

        add(a, "-object", g_strdup("rng-random,id=kc-rng,filename=/dev/urandom"));
        add(a, "-device",
            g_strdup_printf("%s,rng=kc-rng", microvm ? "virtio-rng-device" : "virtio-rng-pci"));

        for (size_t i = 0; i < p->n_nics; i++) {
                add(a, "-netdev", g_strdup_printf("tap,id=kc-net%zu,fd=%d,vhost=off", i, p->nics[i].tap_fd));
                add(a, "-device",
                    g_strdup_printf("%s,netdev=kc-net%zu,mac=%s",
                                    microvm ? "virtio-net-device" : "virtio-net-pci", i, p->nics[i].mac));
        }

        if (p->qmp.fd >= 0 || p->qmp.path) {
                add(a, "-chardev", chardev_socket("kc-qmp", &p->qmp));
                add(a, "-mon", g_strdup("chardev=kc-qmp,mode=control"));
        }

        g_ptr_array_add(a, NULL);
        *ret_argv = (char **) g_ptr_array_free(g_steal_pointer(&a), false);
        return 0;
}
