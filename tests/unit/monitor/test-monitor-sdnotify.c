/* Unit tests: which sd_notify lines a container may relay to the host. */
#include <glib.h>
#include <string.h>

#include "sdnotify.h"

static void check(const char *in, const char *expected) {
        g_autofree char *out = kc_sdnotify_filter(in, strlen(in));
        g_assert_cmpstr(out, ==, expected);
}

static void test_filter(void) {
        check("READY=1", "READY=1");
        check("READY=1\nMAINPID=1\nSTATUS=up\nFOO=bar", "READY=1\nSTATUS=up");
        check("RELOADING=1\nSTOPPING=1\nWATCHDOG=1\nWATCHDOG=trigger",
              "RELOADING=1\nSTOPPING=1\nWATCHDOG=1\nWATCHDOG=trigger");
        check("ERRNO=2\nBUSERROR=x.y\nMONOTONIC_USEC=5", "ERRNO=2\nBUSERROR=x.y\nMONOTONIC_USEC=5");
        /* a container must not be able to claim another main pid or pass fds */
        check("MAINPID=1", NULL);
        check("FDSTORE=1\nREADY=0", NULL);
        check("", NULL);
        check("READY=1x", NULL);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/monitor/sdnotify/filter", test_filter);
        return g_test_run();
}
