/* Connecting to a sandbox's multiplexing socket and calling the agent through it. */
#pragma once

#include "client.h"
#include "kc-state.h"

#define KR_MUX_SOCKET "mux.sock"
#define KR_DEFAULT_SANDBOX_BASE "/run/kata-containers/kata-conmon"
#define KR_CALL_TIMEOUT_MS 30000

/* The sandbox directory of a container: the recorded one, else <base>/<sandbox-id>. */
char *kr_sandbox_dir(const KrState *s);

/* Connects to <sandbox_dir>/mux.sock and waits for the replayed hello. ops/userdata as for
 * kc_agent_client_new(). -ECONNREFUSED/-ENOENT when nobody serves the socket. */
int kr_mux_connect(const char *sandbox_dir, const KcAgentClientOps *ops, void *userdata, int timeout_ms,
                   KcAgentClient **ret);

/* One synchronous request; ret_message (optional) gets the agent's error text. */
int kr_mux_call(KcAgentClient *c, JsonObject *req, JsonObject **ret_reply, char **ret_message);

/* Connect, send one request built by the caller, disconnect. */
int kr_mux_call_once(const KrState *s, JsonObject *req, JsonObject **ret_reply, char **ret_message);
