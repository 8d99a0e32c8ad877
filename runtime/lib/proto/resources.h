/* OCI LinuxResources for the update-container request: strict validation and the guest's subset. */
#pragma once

#include <json-glib/json-glib.h>

#define KC_RESOURCES_UNIFIED_MAX 64

/* Checks every known member of an OCI LinuxResources object (types and ranges of docs/protocol.md
 * §5) and returns in *ret a new object with only what the guest's cgroup2 applies (memory limit,
 * reservation, swap; cpu shares, quota, period, burst, idle; pids limit; unified). -EINVAL with a
 * message in *ret_error (may be NULL) for a bad member. */
int kc_resources_filter(JsonObject *resources, JsonObject **ret, char **ret_error);
