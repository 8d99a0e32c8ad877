/* `kata-runtime features`: the OCI features document. */
#include <string.h>
#include <errno.h>
#include <getopt.h>

#include "oci-features.h"
#include "kata-runtime.h"
#include "log.h"

int kr_cmd_features(KrContext *ctx, int argc, char **argv) {
        g_autoptr(JsonObject) o = NULL;

        if (argc > 1 && strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0)
                return log_error_errno(EINVAL, "features takes no arguments");
        if (argc > 1) {
                printf("Usage: kata-runtime features\n");
                return 0;
        }
        o = kr_features_build();
        return kr_print_json(o, true);
}
