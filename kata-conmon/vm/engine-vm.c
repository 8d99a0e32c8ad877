/* The VM engine's ops and lifecycle: guest output and exits, stand-in, signals, sandbox teardown. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "engine-vm-internal.h"
#include "fileio.h"
#include "log.h"
#include "message.h"
#include "vm-mounts.h"
#include "vm-state.h"

#define OUTPUT_CHUNK 8192
#define POWEROFF_TIMEOUT_MS 3000

static VmEngine *VE(KcEngine *e) {
        return (VmEngine *) e;
}

static int decoded_status(const VmEngine *ve) {
        return ve->exit_signal > 0 ? 128 + ve->exit_signal : ve->exit_code;
}

static void report_exited(VmEngine *ve) {
        int status = decoded_status(ve);

        if (ve->exited_reported)
                return;
        ve->exited_reported = true;
        if (ve->state_written)
                (void) kc_vm_state_mark_stopped(ve->root, ve->cid, status);
        if (ve->role == VM_CONTAINER && ve->rootfs_mounted) {
                (void) kc_vm_rootfs_umount(ve->shared_dir, ve->cid);
                ve->rootfs_mounted = false;
        }
        log_info("%s %s exited with status %d", ve->role == VM_EXEC ? "Exec" : "Container", ve->cid, status);
        if (!ve->stopped)
                ve->base.cb->exited(ve->base.userdata, status);
}

static void on_destroyed(KcAgentClient *c, int result, JsonObject *reply, void *userdata) {
        if (result < 0)
                log_debug_errno(result, "destroy-sandbox failed: %m");
}

/* The workload's status is known: for a sandbox, the VM goes before the exit is reported. */
void vm_on_guest_exit(VmEngine *ve, const KcExitStatus *st) {
        if (ve->exit_seen)
                return;
        ve->exit_seen = true;
        ve->exit_code = st->exit_code;
        ve->exit_signal = st->signal;
        if (ve->role == VM_SANDBOX) {
                g_autoptr(JsonObject) req = kc_request_new("destroy-sandbox");
                if (kc_agent_client_request(ve->client, req, on_destroyed, ve) < 0)
                        kc_vm_sandbox_stop(ve->sb, 0);
                else
                        kc_vm_sandbox_stop(ve->sb, POWEROFF_TIMEOUT_MS);
                return;
        }
        if (ve->standin && kc_standin_pid(ve->standin) > 0)
                (void) kc_standin_finish(ve->standin, st->exit_code < 0 ? 0 : st->exit_code, st->signal);
        else
                report_exited(ve);
}

void vm_on_sandbox_gone(int wait_status, void *userdata) {
        VmEngine *ve = userdata;

        if (!ve->started) {
                g_autofree char *diag = kc_vm_sandbox_diagnostics(ve->sb);
                vm_fail(ve, "the VM of sandbox %s stopped during start-up%s%s", ve->sandbox_id,
                        diag[0] ? ":\n" : "", diag);
                return;
        }
        if (!ve->exit_seen) {
                /* The workload's own status is lost with the VM. */
                ve->exit_seen = true;
                ve->exit_code = 255;
                ve->exit_signal = WIFSIGNALED(wait_status) ? SIGKILL : 0;
        }
        report_exited(ve);
}

static void on_client_event(KcAgentClient *c, const char *type, JsonObject *ev, void *userdata) {
        VmEngine *ve = userdata;
        KcExitStatus st;

        if (strcmp(type, "hello") == 0) {
                vm_on_hello(ve);
                return;
        }
        if (strcmp(type, "oom") == 0) {
                const char *id = NULL;
                if (kc_json_get_id(ev, "container-id", true, &id) >= 0 && strcmp(id, ve->cid) == 0 &&
                    ve->role != VM_EXEC && ve->started && !ve->stopped)
                        ve->base.cb->oom(ve->base.userdata);
                return;
        }
        if (strcmp(type, "exit") != 0 || !ve->started)
                return;
        if (kc_exit_status_parse(ev, true, &st) < 0) {
                log_warning("Ignoring a malformed exit event");
                return;
        }
        if (strcmp(st.container_id, ve->cid) != 0)
                return;
        if (ve->role == VM_EXEC ? !st.exec_id || strcmp(st.exec_id, ve->exec_id) != 0 : st.exec_id != NULL)
                return;
        vm_on_guest_exit(ve, &st);
}

static void on_client_data(KcAgentClient *c, uint32_t stream, const uint8_t *buf, size_t len,
                           void *userdata) {
        VmEngine *ve = userdata;
        KcStream which = stream == ve->s_err ? KC_STREAM_STDERR : KC_STREAM_STDOUT;

        if (len == 0 || (stream != ve->s_out && stream != ve->s_err))
                return;
        if (!ve->stopped)
                for (size_t off = 0; off < len; off += OUTPUT_CHUNK)
                        ve->base.cb->output(ve->base.userdata, which, (const char *) buf + off,
                                            MIN(OUTPUT_CHUNK, len - off));
        (void) kc_agent_client_consumed(c, stream, len);
}

static void on_client_writable(KcAgentClient *c, uint32_t stream, void *userdata) {
        VmEngine *ve = userdata;

        if (stream == ve->s_in && !ve->stopped)
                ve->base.cb->stdin_ready(ve->base.userdata);
}

static void on_client_closed(KcAgentClient *c, int error, void *userdata) {
        VmEngine *ve = userdata;

        if (!ve->started) {
                if (ve->role != VM_SANDBOX)
                        vm_fail(ve, "lost the connection to sandbox %s: %s",
                                ve->sandbox_id ? ve->sandbox_id : ve->sandbox_dir, g_strerror(-error));
                /* Sandbox role: QEMU's exit reports it, with the console's last words. */
                return;
        }
        if (ve->role == VM_SANDBOX || ve->exit_seen)
                return;
        log_warning("Lost the connection to the sandbox: the guest process is gone with it");
        KcExitStatus st = {.exit_code = -1, .signal = SIGKILL};
        vm_on_guest_exit(ve, &st);
}

const KcAgentClientOps vm_client_ops = {
        .event = on_client_event,
        .data = on_client_data,
        .writable = on_client_writable,
        .closed = on_client_closed,
};

static void on_reply_logged(KcAgentClient *c, int result, JsonObject *reply, void *userdata) {
        const char *message = NULL;

        if (result < 0 && reply)
                (void) kc_reply_parse(reply, &message);
        if (result < 0)
                log_debug("%s failed: %s", (const char *) userdata, message ? message : g_strerror(-result));
}

static void send_signal(VmEngine *ve, int sig, bool all) {
        g_autoptr(JsonObject) req = kc_request_new("signal");

        json_object_set_string_member(req, "container-id", ve->cid);
        if (ve->exec_id)
                json_object_set_string_member(req, "exec-id", ve->exec_id);
        json_object_set_int_member(req, "signal", sig);
        json_object_set_boolean_member(req, "all", all);
        if (kc_agent_client_request(ve->client, req, on_reply_logged, (void *) "signal") < 0)
                log_warning("Failed to forward signal %d to the guest", sig);
}

static void on_standin_signal(int sig, void *userdata) {
        VmEngine *ve = userdata;

        if (ve->exit_seen || !ve->client)
                return;
        log_debug("Stand-in received signal %d: forwarding it", sig);
        send_signal(ve, sig, false);
}

static void on_standin_gone(bool by_request, int wait_status, void *userdata) {
        VmEngine *ve = userdata;

        if (by_request) {
                report_exited(ve);
                return;
        }
        /* Killed behind our back (SIGKILL cannot be relayed): the guest process follows it. */
        log_warning("The stand-in died (wait status 0x%x): killing the guest process",
                    (unsigned) wait_status);
        if (ve->exit_seen)
                report_exited(ve);
        else
                send_signal(ve, SIGKILL, false);
}

const KcStandinCallbacks vm_standin_callbacks = {
        .signal = on_standin_signal,
        .gone = on_standin_gone,
};

static int vm_start(KcEngine *e) {
        VmEngine *ve = VE(e);
        g_autofree char *error = NULL;
        int r;

        r = vm_role_prepare(ve, &error);
        if (r < 0)
                vm_fail(ve, "%s", error ? error : g_strerror(-r));
        return 0;
}

static ssize_t vm_write_stdin(KcEngine *e, const void *buf, size_t len) {
        VmEngine *ve = VE(e);
        ssize_t n;

        if (!ve->client || !ve->s_in || !ve->started)
                return -EPIPE;
        n = kc_agent_client_write(ve->client, ve->s_in, buf, len);
        if (n == 0 && len > 0)
                return -EAGAIN;
        return n;
}

static void vm_close_stdin(KcEngine *e) {
        VmEngine *ve = VE(e);

        if (!ve->client || !ve->s_in)
                return;
        (void) kc_agent_client_write(ve->client, ve->s_in, NULL, 0);
        ve->s_in = 0;
}

static int vm_resize(KcEngine *e, unsigned rows, unsigned cols) {
        VmEngine *ve = VE(e);
        g_autoptr(JsonObject) req = NULL;

        if (!ve->tty || !ve->started || !ve->client)
                return -ENOTTY;
        if (rows < 1 || cols < 1 || rows > 65535 || cols > 65535)
                return -EINVAL;
        req = kc_request_new("resize");
        json_object_set_string_member(req, "container-id", ve->cid);
        if (ve->exec_id)
                json_object_set_string_member(req, "exec-id", ve->exec_id);
        json_object_set_int_member(req, "rows", rows);
        json_object_set_int_member(req, "cols", cols);
        return kc_agent_client_request(ve->client, req, on_reply_logged, (void *) "resize") < 0 ? -EIO : 0;
}

static int vm_kill(KcEngine *e, int sig, bool group) {
        VmEngine *ve = VE(e);

        if (sig <= 0 || sig >= NSIG)
                return -EINVAL;
        if (!ve->started) {
                /* Still booting: there is no guest process yet; a fatal signal stops the VM. */
                if (ve->sb && (sig == SIGKILL || sig == SIGTERM || sig == SIGINT))
                        kc_vm_sandbox_stop(ve->sb, 0);
                return ve->sb ? 0 : -ESRCH;
        }
        if (ve->exit_seen)
                return -ESRCH;
        send_signal(ve, sig, group && ve->role != VM_EXEC);
        return 0;
}

static void vm_drain(KcEngine *e) {
        /* Output is delivered as frames arrive; the agent sends every byte before the exit. */
}

static void vm_stop(KcEngine *e) {
        VmEngine *ve = VE(e);
        guint *sources[] = {&ve->hello_timer, &ve->wait_source, &ve->idle_fail};

        ve->stopped = true;
        for (size_t i = 0; i < ELEMENTSOF(sources); i++)
                if (*sources[i]) {
                        g_source_remove(*sources[i]);
                        *sources[i] = 0;
                }
}

static void vm_free(KcEngine *e) {
        VmEngine *ve = VE(e);

        if (!ve)
                return;
        vm_stop(e);
        /* A signal queued on the way out (the -T timeout's SIGKILL) must still reach the agent. */
        if (ve->client && ve->role != VM_SANDBOX && kc_agent_client_get_error(ve->client) == 0)
                (void) kc_agent_client_flush(ve->client, 1000);
        kc_standin_free(ve->standin);
        g_clear_pointer(&ve->client, kc_agent_client_free);
        if (ve->role == VM_CONTAINER && ve->rootfs_mounted)
                (void) kc_vm_rootfs_umount(ve->shared_dir, ve->cid);
        /* Tears down QEMU, virtiofsd, the mux, the mounts and S. */
        kc_vm_sandbox_free(ve->sb);
        if (!ve->started && ve->root && ve->role != VM_EXEC) {
                g_autofree char *dir = g_build_filename(ve->root, ve->cid, NULL);
                (void) rm_rf(dir);
        }
        if (ve->process)
                json_object_unref(ve->process);
        kc_vm_bundle_done(&ve->bundle);
        g_clear_pointer(&ve->config, kc_vm_config_free);
        g_free(ve->fail_message);
        g_free(ve->root);
        g_free(ve->sandbox_id);
        g_free(ve->sandbox_dir);
        g_free(ve->shared_dir);
        g_free(ve->exec_id);
        g_free(ve);
}

static const KcEngineOps vm_ops = {
        .name = "vm",
        .start = vm_start,
        .write_stdin = vm_write_stdin,
        .close_stdin = vm_close_stdin,
        .resize = vm_resize,
        .kill = vm_kill,
        .drain = vm_drain,
        .stop = vm_stop,
        .free = vm_free,
};

int kc_engine_vm_new(const KcEngineParams *params, KcReaper *reaper, const KcEngineCallbacks *cb,
                     void *userdata, KcEngine **ret) {
        VmEngine *ve;

        if (!params->opts->cid || !kc_id_is_valid(params->opts->cid))
                return log_error_errno(EINVAL, "The VM engine needs a valid container id");
        ve = g_new0(VmEngine, 1);
        ve->base = (KcEngine){&vm_ops, cb, userdata};
        ve->p = *params;
        ve->reaper = reaper;
        ve->cid = params->opts->cid;
        ve->tty = params->opts->terminal;
        *ret = &ve->base;
        return 0;
}
