/* Which engine a monitor invocation needs: decided from the options alone, before any side effect. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

bool kc_engine_vm_selected(const KcOptions *opts) {
        const char *env = getenv("KATA_CONMON_ENGINE");
        const char *base;

        if (env && strcmp(env, "local") == 0)
                return false;
        if (env && strcmp(env, "vm") == 0)
                return true;
        if (!opts->runtime)
                return false;
        base = strrchr(opts->runtime, '/');
        base = base ? base + 1 : opts->runtime;
        return strcmp(base, "kata-runtime") == 0;
}
