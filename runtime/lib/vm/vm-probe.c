/* Host probes for the VM configuration: is KVM usable, what is the host's TSC frequency. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <time.h>

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

#if defined(__x86_64__) || defined(__i386__)
static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* One (time, TSC) pair read close together; a pair split by preemption is read again. */
static void sample(uint64_t *ret_ns, uint64_t *ret_tsc) {
        for (int i = 0;; i++) {
                uint64_t a = now_ns(), c = __builtin_ia32_rdtsc(), b = now_ns();

                if (b - a < 20000 || i == 100) {
                        *ret_ns = a + (b - a) / 2;
                        *ret_tsc = c;
                        return;
                }
        }
}

/* Measures the TSC against CLOCK_MONOTONIC_RAW over ~20 ms: "cpu MHz" in /proc/cpuinfo is the
 * current core frequency on hosts with frequency scaling, not the TSC's. */
static unsigned measure_tsc_khz(void) {
        uint64_t t0, t1, c0, c1;

        sample(&t0, &c0);
        do
                sample(&t1, &c1);
        while (t1 - t0 < 20 * 1000 * 1000);
        if (c1 <= c0)
                return 0;
        /* rounded to 10 kHz: the measurement is not more precise than that */
        return (unsigned) (((c1 - c0) * 1000000ULL / (t1 - t0) + 5) / 10 * 10);
}
#endif

unsigned kc_vm_host_tsc_khz(void) {
        _cleanup_fclose_ FILE *f = NULL;
        char line[256];
        unsigned khz = 0;

        f = fopen("/sys/devices/system/cpu/cpu0/tsc_freq_khz", "re");
        if (f && fscanf(f, "%u", &khz) == 1 && khz > 0)
                return khz;
#if defined(__x86_64__) || defined(__i386__)
        khz = measure_tsc_khz();
        if (khz > 0)
                return khz;
#endif
        if (f)
                fclose(f);
        f = fopen("/proc/cpuinfo", "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                const char *colon = strchr(line, ':');
                double mhz;

                if (strncmp(line, "cpu MHz", 7) == 0 && colon && sscanf(colon + 1, "%lf", &mhz) == 1 &&
                    mhz > 0 && mhz < 100000)
                        return (unsigned) (mhz * 1000 + 0.5);
        }
        return 0;
}
