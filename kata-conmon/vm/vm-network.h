/* A VM pod's network: the pod netns' interfaces mirrored to taps (tc), described for QEMU and the agent. */
#pragma once

#include <json-glib/json-glib.h>
#include <stddef.h>

#include "qemu-argv.h"

typedef struct KcVmNetwork KcVmNetwork;

/* The spec's linux.namespaces network path: *ret NULL when the spec names none (no NIC), -EINVAL
 * with *ret_error when it is malformed. */
int kc_vm_network_path(JsonObject *spec, const char **ret, char **ret_error);

/* Enters the netns at path (the monitor's own is restored before returning), reads its interfaces,
 * addresses and routes, and creates one tap per interface mirrored to it with tc filters. On
 * error nothing is left in the netns and *ret_error says why. */
int kc_vm_network_setup(const char *path, KcVmNetwork **ret, char **ret_error);

/* The NICs for QEMU (tap fds are the network's; fd numbers in QEMU are assigned by the caller). */
size_t kc_vm_network_count(const KcVmNetwork *n);
int kc_vm_network_tap_fd(const KcVmNetwork *n, size_t i);
const char *kc_vm_network_mac(const KcVmNetwork *n, size_t i);
/* Closes the monitor's copies of the tap fds (QEMU holds its own). */
void kc_vm_network_close_taps(KcVmNetwork *n);

/* The create-sandbox "interfaces" and "routes" members (docs/protocol.md). */
JsonArray *kc_vm_network_interfaces_json(const KcVmNetwork *n);
JsonArray *kc_vm_network_routes_json(const KcVmNetwork *n);

/* Removes the tc qdiscs from the pod's interfaces (the taps vanish with QEMU) and frees n. */
void kc_vm_network_free(KcVmNetwork *n);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KcVmNetwork, kc_vm_network_free)
