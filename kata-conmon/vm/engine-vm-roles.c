/* VM engine start-up per role: sandbox (boot the VM), container (join it), exec (run in it). */
#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"
#include "engine-vm-internal.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"
#include "message.h"
#include "proc-util.h"
#include "selinux-exec.h"
#include "vm-mounts.h"
#include "vm-state.h"

#define JOIN_HELLO_TIMEOUT_S 30

/* Container and exec monitors log KATA_VM_PID too, from the sandbox's S/qemu.pid (a decimal pid
 * written by the sandbox monitor; anything else is ignored). */
static void set_vm_pid_field(const char *sandbox_dir) {
        g_autofree char *path = g_build_filename(sandbox_dir, "qemu.pid", NULL);
        _cleanup_free_ char *text = NULL;
        int pid;

        if (read_file_bounded(path, 32, &text, NULL) < 0)
                return;
        g_strstrip(text);
        if (safe_atoi(text, &pid) < 0 || pid <= 0)
                return;
        kc_log_set_field("KATA_VM_PID", text);
}

static gboolean fail_idle(gpointer userdata) {
        VmEngine *ve = userdata;
        g_autofree char *msg = g_steal_pointer(&ve->fail_message);

        ve->idle_fail = 0;
        if (!ve->stopped)
                ve->base.cb->start_failed(ve->base.userdata, msg, 1);
        return G_SOURCE_REMOVE;
}

/* Start-up failed: the caller hears it from the main loop (never from inside start()). */
void vm_fail(VmEngine *ve, const char *format, ...) {
        va_list ap;

        if (ve->failed || ve->started)
                return;
        ve->failed = true;
        va_start(ap, format);
        ve->fail_message = g_strdup_vprintf(format, ap);
        va_end(ap);
        log_error("%s", ve->fail_message);
        if (ve->hello_timer) {
                g_source_remove(ve->hello_timer);
                ve->hello_timer = 0;
        }
        ve->idle_fail = g_idle_add(fail_idle, ve);
}

static int connect_mux(const char *sandbox_dir) {
        g_autofree char *path = g_build_filename(sandbox_dir, "mux.sock", NULL);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -EBADF;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static gboolean on_hello_timeout(gpointer userdata) {
        VmEngine *ve = userdata;
        g_autofree char *diag = ve->sb ? kc_vm_sandbox_diagnostics(ve->sb) : NULL;

        ve->hello_timer = 0;
        vm_fail(ve, "timed out waiting for the kata-agent of sandbox %s%s%s", ve->sandbox_id,
                diag && diag[0] ? ":\n" : "", diag ? diag : "");
        return G_SOURCE_REMOVE;
}

static void attach_client(VmEngine *ve, int fd, unsigned timeout_s) {
        ve->client = kc_agent_client_new(fd, &vm_client_ops, ve);
        kc_agent_client_attach(ve->client, NULL);
        ve->hello_timer = g_timeout_add_seconds(timeout_s, on_hello_timeout, ve);
}

static int load_exec_target(VmEngine *ve, char **ret_error) {
        g_autofree char *path = g_build_filename(ve->root, ve->cid, "state.json", NULL);
        g_autoptr(JsonObject) st = NULL, proc = NULL;
        _cleanup_free_ char *text = NULL, *ptext = NULL;
        const char *status = NULL, *dir = NULL;
        size_t len = 0, plen = 0;
        int r;

        r = read_file_bounded(path, 1024 * 1024, &text, &len);
        if (r < 0) {
                *ret_error = g_strdup_printf("container %s not running: no such process", ve->cid);
                return r;
        }
        r = kc_json_parse_object(text, len, &st);
        if (r >= 0)
                r = kc_json_get_string(st, "sandbox_dir", 4096, true, &dir);
        if (r >= 0)
                r = kc_json_get_string(st, "status", 64, true, &status);
        if (r < 0) {
                *ret_error = g_strdup_printf("invalid state of container %s", ve->cid);
                return -EINVAL;
        }
        if (strcmp(status, "stopped") == 0) {
                *ret_error = g_strdup_printf("container %s not running: no such process", ve->cid);
                return -ESRCH;
        }
        ve->sandbox_dir = g_strdup(dir);
        if (!ve->p.opts->exec_process_spec) {
                *ret_error = g_strdup("exec needs --exec-process-spec");
                return -EINVAL;
        }
        r = read_file_bounded(ve->p.opts->exec_process_spec, 1024 * 1024, &ptext, &plen);
        if (r >= 0)
                r = kc_json_parse_object(ptext, plen, &proc);
        if (r < 0) {
                *ret_error = g_strdup_printf("cannot read the exec process spec %s: %s",
                                             ve->p.opts->exec_process_spec, g_strerror(-r));
                return r;
        }
        ve->process = g_steal_pointer(&proc);
        ve->exec_id = g_strdup_printf("kc-%08x%08x", g_random_int(), g_random_int());
        return 0;
}

static int apply_annotations(VmEngine *ve, char **ret_error) {
        g_autoptr(GHashTable) table = kc_vm_bundle_annotation_table(&ve->bundle);
        g_autoptr(GString) names = g_string_new(NULL);
        GHashTableIter it;
        gpointer key;
        int r;

        r = kc_vm_config_apply_annotations(ve->config, table);
        if (r >= 0)
                return 0;
        g_hash_table_iter_init(&it, table);
        while (g_hash_table_iter_next(&it, &key, NULL))
                if (g_str_has_prefix(key, "io.katacontainers.") &&
                    !g_str_has_prefix(key, "io.katacontainers.pkg."))
                        g_string_append_printf(names, "%s%s", names->len ? ", " : "", (const char *) key);
        *ret_error = g_strdup_printf(
                r == -EPERM ? "annotation not allowed by kata-conmon.conf (enable_annotations): %s"
                            : "invalid annotation value: %s",
                names->str);
        return r;
}

/* QEMU and virtiofsd run under the pod's label with the kvm type (container_kvm_t on RHCOS). */
static int vm_label(VmEngine *ve, char **ret, char **ret_error) {
        JsonObject *process = NULL;
        const char *pod_label = NULL;
        int r;

        *ret = NULL;
        if (kc_json_get_object(ve->bundle.spec, "process", false, &process) < 0 || !process ||
            kc_json_get_string(process, "selinuxLabel", 1024, false, &pod_label) < 0) {
                *ret_error = g_strdup("malformed config.json: invalid process.selinuxLabel");
                return -EINVAL;
        }
        r = kc_selinux_vm_label_for_pod(pod_label, ret);
        if (r < 0)
                *ret_error = g_strdup_printf("invalid SELinux label %s: %s", pod_label ? pod_label : "",
                                             g_strerror(-r));
        return r;
}

int vm_role_prepare(VmEngine *ve, char **ret_error) {
        const KcOptions *o = ve->p.opts;
        g_autofree char *label = NULL;
        KcVmNetwork *net = NULL;
        const char *netns = NULL;
        int r, fd;

        r = kc_vm_config_load(&ve->config);
        if (r < 0) {
                *ret_error = g_strdup_printf("invalid kata-conmon configuration (%s): see the log",
                                             g_strerror(-r));
                return r;
        }
        ve->root = kc_vm_runtime_root(o->runtime_args, ve->config->runtime_root);
        if (o->exec) {
                ve->role = VM_EXEC;
                r = load_exec_target(ve, ret_error);
                if (r < 0)
                        return r;
        } else {
                if (!ve->p.bundle) {
                        *ret_error = g_strdup("the VM engine needs a bundle (-b)");
                        return -EINVAL;
                }
                r = kc_vm_bundle_load(ve->p.bundle, ve->cid, &ve->bundle, ret_error);
                if (r < 0)
                        return r;
                ve->role = ve->bundle.role == KC_VM_ROLE_SANDBOX ? VM_SANDBOX : VM_CONTAINER;
                ve->sandbox_id = g_strdup(ve->bundle.sandbox_id);
                ve->sandbox_dir = g_build_filename(ve->config->vm_run_dir, ve->sandbox_id, NULL);
        }
        ve->shared_dir = g_build_filename(ve->sandbox_dir, "shared", NULL);
        /* journalctl -t kata-conmon KATA_SANDBOX_ID=<id> finds every monitor of the pod. */
        if (ve->sandbox_id)
                kc_log_set_field("KATA_SANDBOX_ID", ve->sandbox_id);

        switch (ve->role) {
        case VM_SANDBOX:
                r = apply_annotations(ve, ret_error);
                if (r < 0)
                        return r;
                r = vm_label(ve, &label, ret_error);
                if (r < 0)
                        return r;
                r = kc_vm_network_path(ve->bundle.spec, &netns, ret_error);
                if (r < 0)
                        return r;
                if (netns) {
                        r = kc_vm_network_setup(netns, &net, ret_error);
                        if (r < 0)
                                return r;
                }
                r = kc_vm_sandbox_start(ve->sandbox_id, ve->sandbox_dir, ve->config, label, net, ve->reaper,
                                        vm_on_sandbox_gone, ve, &ve->sb, ret_error);
                if (r < 0)
                        return r;
                {
                        char pid[32];
                        snprintf(pid, sizeof(pid), "%d", (int) kc_vm_sandbox_qemu_pid(ve->sb));
                        kc_log_set_field("KATA_VM_PID", pid);
                }
                r = kc_vm_rootfs_mount(ve->shared_dir, ve->cid, ve->bundle.root_path,
                                       ve->bundle.root_readonly);
                if (r < 0) {
                        *ret_error = g_strdup_printf("cannot share rootfs %s: %s", ve->bundle.root_path,
                                                     g_strerror(-r));
                        return r;
                }
                ve->rootfs_mounted = true;
                fd = kc_vm_sandbox_connect(ve->sb);
                if (fd < 0) {
                        *ret_error = g_strdup_printf("cannot connect to the mux: %s", g_strerror(-fd));
                        return fd;
                }
                attach_client(ve, fd, ve->config->vm_start_timeout);
                return 0;
        case VM_CONTAINER:
        case VM_EXEC:
                set_vm_pid_field(ve->sandbox_dir);
                fd = connect_mux(ve->sandbox_dir);
                if (fd < 0) {
                        *ret_error = g_strdup_printf("sandbox %s not found: container not running (%s)",
                                                     ve->sandbox_id ? ve->sandbox_id : ve->sandbox_dir,
                                                     g_strerror(-fd));
                        return fd;
                }
                if (ve->role == VM_CONTAINER) {
                        r = kc_vm_rootfs_mount(ve->shared_dir, ve->cid, ve->bundle.root_path,
                                               ve->bundle.root_readonly);
                        if (r < 0) {
                                close(fd);
                                *ret_error = g_strdup_printf("cannot share rootfs %s: %s",
                                                             ve->bundle.root_path, g_strerror(-r));
                                return r;
                        }
                        ve->rootfs_mounted = true;
                }
                attach_client(ve, fd, JOIN_HELLO_TIMEOUT_S);
                return 0;
        }
        return -EINVAL;
}

static void open_streams(VmEngine *ve, JsonObject *req) {
        const KcOptions *o = ve->p.opts;

        if (o->stdin_ && !ve->p.passthrough) {
                ve->s_in = kc_agent_client_stream_alloc(ve->client, true);
                json_object_set_int_member(req, "stdin", ve->s_in);
        }
        ve->s_out = kc_agent_client_stream_alloc(ve->client, false);
        json_object_set_int_member(req, "stdout", ve->s_out);
        if (!ve->tty) {
                ve->s_err = kc_agent_client_stream_alloc(ve->client, false);
                json_object_set_int_member(req, "stderr", ve->s_err);
        }
        json_object_set_boolean_member(req, "tty", ve->tty);
}

static void on_created(KcAgentClient *c, int result, JsonObject *reply, void *userdata) {
        VmEngine *ve = userdata;
        const char *message = NULL;
        int64_t pid = 0;

        if (ve->stopped || ve->failed)
                return;
        if (result < 0) {
                if (reply)
                        (void) kc_reply_parse(reply, &message);
                vm_fail(ve, "the agent could not create %s %s: %s",
                        ve->role == VM_EXEC ? "exec in" : "container", ve->cid,
                        message ? message : g_strerror(-result));
                return;
        }
        (void) kc_json_get_int(reply, "pid", 0, INT32_MAX, false, &pid);
        vm_report_started(ve, (pid_t) pid);
}

static void create_process(VmEngine *ve) {
        g_autoptr(JsonObject) req = NULL;

        if (ve->role == VM_EXEC) {
                req = kc_request_new("exec");
                json_object_set_string_member(req, "container-id", ve->cid);
                json_object_set_string_member(req, "exec-id", ve->exec_id);
                json_object_set_object_member(req, "process", json_object_ref(ve->process));
        } else {
                req = kc_request_new("create-container");
                json_object_set_string_member(req, "container-id", ve->cid);
                json_object_set_object_member(req, "spec", json_object_ref(ve->bundle.spec));
        }
        open_streams(ve, req);
        if (kc_agent_client_request(ve->client, req, on_created, ve) < 0)
                vm_fail(ve, "cannot send the create request to the agent");
}

static void on_sandbox_created(KcAgentClient *c, int result, JsonObject *reply, void *userdata) {
        VmEngine *ve = userdata;
        const char *message = NULL;

        if (ve->stopped || ve->failed)
                return;
        if (result < 0) {
                if (reply)
                        (void) kc_reply_parse(reply, &message);
                vm_fail(ve, "the agent could not create sandbox %s: %s", ve->sandbox_id,
                        message ? message : g_strerror(-result));
                return;
        }
        create_process(ve);
}

static gboolean on_wait_fd(int fd, GIOCondition cond, gpointer userdata) {
        VmEngine *ve = userdata;
        char ch;

        (void) !read(fd, &ch, 1);
        ve->wait_source = 0;
        create_process(ve);
        return G_SOURCE_REMOVE;
}

void vm_on_hello(VmEngine *ve) {
        if (ve->hello_timer) {
                g_source_remove(ve->hello_timer);
                ve->hello_timer = 0;
        }
        if (ve->failed || ve->stopped)
                return;
        log_info("kata-agent %s ready, guest kernel %s", kc_agent_client_get_agent_version(ve->client),
                 kc_agent_client_get_kernel(ve->client));
        if (ve->role == VM_SANDBOX) {
                g_autoptr(JsonObject) req = kc_request_new("create-sandbox");
                g_autoptr(JsonObject) fs = json_object_new();
                const char *hostname = NULL;

                if (kc_json_get_string(ve->bundle.spec, "hostname", 64, false, &hostname) >= 0 && hostname &&
                    hostname[0])
                        json_object_set_string_member(req, "hostname", hostname);
                json_object_set_string_member(fs, "type", "virtio-fs");
                json_object_set_string_member(fs, "tag", "kataShared");
                if (ve->config->virtio_fs_read_ahead_kb > 0)
                        json_object_set_int_member(fs, "read-ahead-kb", ve->config->virtio_fs_read_ahead_kb);
                json_object_set_object_member(req, "shared-fs", g_steal_pointer(&fs));
                const KcVmNetwork *net = kc_vm_sandbox_network(ve->sb);
                if (net) {
                        json_object_set_array_member(req, "interfaces", kc_vm_network_interfaces_json(net));
                        json_object_set_array_member(req, "routes", kc_vm_network_routes_json(net));
                }
                if (kc_agent_client_request(ve->client, req, on_sandbox_created, ve) < 0)
                        vm_fail(ve, "cannot send create-sandbox to the agent");
                return;
        }
        if (ve->role == VM_EXEC && ve->p.wait_fd >= 0) {
                /* exec-attach: the caller says when its attach client is ready. */
                ve->wait_source = g_unix_fd_add(ve->p.wait_fd, G_IO_IN | G_IO_HUP, on_wait_fd, ve);
                return;
        }
        create_process(ve);
}

static int write_pidfile(const char *path, pid_t pid) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d", (int) pid);

        return write_file_atomic(path, buf, (size_t) n, 0644, false);
}

void vm_report_started(VmEngine *ve, pid_t guest_pid) {
        int r;

        log_info("%s %s created in the guest (guest pid %d)", ve->role == VM_EXEC ? "Exec" : "Container",
                 ve->cid, (int) guest_pid);
        if (ve->role == VM_SANDBOX)
                ve->pid = kc_vm_sandbox_qemu_pid(ve->sb);
        else {
                r = kc_standin_spawn(ve->reaper, &vm_standin_callbacks, ve, &ve->standin);
                if (r < 0) {
                        vm_fail(ve, "cannot fork the stand-in process: %s", g_strerror(-r));
                        return;
                }
                ve->pid = kc_standin_pid(ve->standin);
        }
        if (ve->p.pidfile) {
                r = write_pidfile(ve->p.pidfile, ve->pid);
                if (r < 0) {
                        vm_fail(ve, "cannot write pid file %s: %s", ve->p.pidfile, g_strerror(-r));
                        return;
                }
        }
        if (ve->role != VM_EXEC) {
                g_autoptr(KrState) st = g_new0(KrState, 1);

                st->id = g_strdup(ve->cid);
                st->role = ve->role == VM_SANDBOX ? KR_ROLE_SANDBOX : KR_ROLE_CONTAINER;
                st->sandbox_id = g_strdup(ve->sandbox_id);
                st->bundle = g_strdup(ve->p.bundle ? ve->p.bundle : "");
                st->pid = ve->pid;
                st->monitor_pid = getpid();
                st->status = KR_STATUS_CREATED;
                st->annotations =
                        ve->bundle.annotations ? json_object_ref(ve->bundle.annotations) : json_object_new();
                st->sandbox_dir = g_strdup(ve->sandbox_dir);
                (void) proc_start_time(ve->pid, &st->pid_start_time);
                r = kc_vm_state_write(ve->root, st);
                if (r < 0) {
                        vm_fail(ve, "cannot write the state of %s under %s: %s", ve->cid, ve->root,
                                g_strerror(-r));
                        return;
                }
                ve->state_written = true;
        }
        ve->started = true;
        ve->base.cb->started(ve->base.userdata, ve->pid);
}
