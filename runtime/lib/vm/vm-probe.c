/* Host probes for the VM configuration: is KVM usable, what is the host's TSC frequency. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "macro.h"
#include "vm-config.h"

bool kc_vm_kvm_usable(void) {
        _cleanup_close_ int kvm = -EBADF, vm = -EBADF;

        kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0)
                return false;
        if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
                return false;
        /* Some paravirtual /dev/kvm implementations open and create VMs but cannot boot a
         * stock kernel; every real x86 KVM has these capabilities. */
        if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 ||
            ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0 ||
            ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ADJUST_CLOCK) <= 0)
                return false;
        vm = ioctl(kvm, KVM_CREATE_VM, 0);
        return vm >= 0;
}

unsigned kc_vm_host_tsc_khz(void) {
        _cleanup_fclose_ FILE *f = NULL;
        char line[256];
        unsigned khz = 0;

        f = fopen("/sys/devices/system/cpu/cpu0/tsc_freq_khz", "re");
        if (f && fscanf(f, "%u", &khz) == 1 && khz > 0)
                return khz;
        if (f)
                fclose(f);
        f = fopen("/proc/cpuinfo", "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                double mhz;

                if (strncmp(line, "cpu MHz", 7) == 0 &&
                    sscanf(strchr(line, ':') ? strchr(line, ':') + 1 : "", "%lf", &mhz) == 1 && mhz > 0 &&
                    mhz < 100000)
                        return (unsigned) (mhz * 1000 + 0.5);
        }
        return 0;
}
