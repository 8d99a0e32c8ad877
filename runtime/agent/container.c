/* kata-agent: container lifecycle requests (create, start, exec, kill, remove) through the runtime. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

static void container_free(Container *c) {
        if (c->execs)
                g_hash_table_destroy(c->execs);
        process_free(c->init);
        g_free(c->bundle);
        g_free(c->id);
        g_free(c);
}

Container *agent_find(Agent *a, JsonObject *req, Process **ret_proc, int *ret_error) {
        const char *cid = NULL, *eid = NULL;
        Container *c;

        if (kc_json_get_id(req, "container-id", true, &cid) < 0 ||
            kc_json_get_id(req, "exec-id", false, &eid) < 0) {
                *ret_error = -EINVAL;
                return NULL;
        }
        c = g_hash_table_lookup(a->containers, cid);
        if (!c) {
                *ret_error = -ENOENT;
                return NULL;
        }
        if (ret_proc) {
                Process *p = eid ? g_hash_table_lookup(c->execs, eid) : c->init;
                if (!p) {
                        *ret_error = -ENOENT;
                        return NULL;
                }
                *ret_proc = p;
        }
        return c;
}

/* A listening socket for the runtime's --console-socket; short path under the state dir. */
static int console_socket(Agent *a, char **ret_path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        g_autofree char *path = g_strdup_printf("%s/console-%u.sock", a->state_dir, ++a->socket_counter);
        _cleanup_close_ int fd = -EBADF;

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        (void) unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 1) < 0)
                return -errno;
        *ret_path = g_steal_pointer(&path);
        return TAKE_FD(fd);
}

/* Receives the pty master the runtime sent to the console socket (it has exited by now). */
static int receive_pty(int listen_fd) {
        _cleanup_close_ int conn = -EBADF;
        char buf[256];
        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        struct cmsghdr *cmsg;

        if (fd_set_nonblock(listen_fd, true) < 0)
                return -errno;
        conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0)
                return errno == EAGAIN ? -ENOTTY : -errno;
        if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) < 0)
                return -errno;
        cmsg = CMSG_FIRSTHDR(&msg);
        if (!cmsg || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
            cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
                return -EBADMSG;
        int fd;
        memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
        return fd;
}

static int read_pid_file(const char *path, pid_t *ret) {
        g_autofree char *s = NULL;
        int r, v;

        r = read_file_bounded(path, 64, &s, NULL);
        if (r < 0)
                return r;
        g_strstrip(s);
        r = safe_atoi(s, &v);
        if (r < 0 || v <= 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

typedef struct StdioReq {
        bool tty;
        int64_t in, out, err;
} StdioReq;

static int parse_stdio(JsonObject *req, StdioReq *ret) {
        StdioReq s = {};

        if (kc_json_get_bool(req, "tty", false, &s.tty) < 0 ||
            kc_json_get_int(req, "stdin", 0, KC_STREAM_ID_MAX, false, &s.in) < 0 ||
            kc_json_get_int(req, "stdout", 0, KC_STREAM_ID_MAX, false, &s.out) < 0 ||
            kc_json_get_int(req, "stderr", 0, KC_STREAM_ID_MAX, false, &s.err) < 0)
                return -EINVAL;
        *ret = s;
        return 0;
}

/* A create or exec the runtime is still working on; the reply goes out when it exits. */
typedef struct SpawnOp {
        Agent *agent;
        Container *container;
        Process *proc;
        uint32_t request_id;
        bool tty;
        int console;
        char *console_path;
        char *pid_file;
        char *process_file; /* exec only */
        RuntimeOp *op;
} SpawnOp;

static void spawn_op_free(SpawnOp *s) {
        safe_close(s->console);
        if (s->console_path)
                (void) unlink(s->console_path);
        if (s->process_file) {
                (void) unlink(s->process_file);
                (void) unlink(s->pid_file);
        }
        g_free(s->console_path);
        g_free(s->pid_file);
        g_free(s->process_file);
        g_free(s);
}

static void spawn_failed(SpawnOp *s, int r, const char *error) {
        Agent *a = s->agent;
        Container *c = s->container;
        Process *p = s->proc;

        channel_reply_error(a->channel, s->request_id, r, "%s", error ?: "the runtime failed");
        p->spawning = NULL;
        if (p == c->init) {
                const char *d[] = {"delete", "--force", c->id, NULL};
                (void) runtime_run(a, d, NULL, NULL);
                (void) rm_rf(c->bundle);
                g_hash_table_remove(a->containers, c->id);
                container_free(c);
        } else
                g_hash_table_remove(c->execs, p->exec_id); /* frees p */
        spawn_op_free(s);
}

static void on_spawned(Agent *a, int result, const char *error, void *userdata) {
        g_autoptr(JsonObject) res = json_object_new();
        SpawnOp *s = userdata;
        Process *p = s->proc;
        pid_t pid;
        int r;

        s->op = NULL;
        if (result < 0)
                return spawn_failed(s, result, error);
        r = read_pid_file(s->pid_file, &pid);
        if (r < 0)
                return spawn_failed(s, r, "the runtime wrote no valid pid file");
        if (s->tty) {
                int master = receive_pty(s->console);
                if (master < 0) {
                        (void) kill(pid, SIGKILL);
                        return spawn_failed(s, master, "no terminal received on the console socket");
                }
                r = process_attach_tty(p, master);
                if (r < 0) {
                        (void) kill(pid, SIGKILL);
                        return spawn_failed(s, r, "stream ids in use");
                }
        }
        p->spawning = NULL;
        process_started(p, pid);
        json_object_set_int_member(res, "pid", pid);
        channel_reply_ok(a->channel, s->request_id, res);
        spawn_op_free(s);
}

/* The process is removed before its runtime finished: stop the runtime, answer the request. */
static void spawn_cancel(Process *p) {
        SpawnOp *s = p->spawning;

        if (!s)
                return;
        if (s->op)
                runtime_op_cancel(s->op);
        channel_reply_error(s->agent->channel, s->request_id, ECANCELED, "removed while being created");
        p->spawning = NULL;
        spawn_op_free(s);
}

/* Shared by create and exec: stdio, console socket, then the runtime runs without blocking the
 * agent; on_spawned() replies. Takes pid_file and process_file. Returns < 0 with *ret_error when
 * nothing was started. */
static int spawn_process(Agent *a, Process *p, const StdioReq *req, GPtrArray *args, char *pid_file,
                         char *process_file, uint32_t request_id, char **ret_error) {
        int child[3] = {-EBADF, -EBADF, -EBADF};
        SpawnOp *s;
        int r;

        r = process_setup_stdio(p, req->tty, (uint32_t) req->in, (uint32_t) req->out, (uint32_t) req->err,
                                child);
        if (r < 0) {
                *ret_error = g_strdup("stream ids in use or duplicated");
                g_free(pid_file);
                g_free(process_file);
                return r;
        }
        s = g_new0(SpawnOp, 1);
        s->agent = a;
        s->container = p->container;
        s->proc = p;
        s->request_id = request_id;
        s->tty = req->tty;
        s->console = -EBADF;
        s->pid_file = pid_file;
        s->process_file = process_file;
        if (req->tty) {
                s->console = console_socket(a, &s->console_path);
                if (s->console < 0) {
                        r = s->console;
                        *ret_error = g_strdup("cannot create the console socket");
                        spawn_op_free(s);
                        for (int i = 0; i < 3; i++)
                                safe_close(child[i]);
                        return r;
                }
                g_ptr_array_insert(args, 1, (char *) "--console-socket");
                g_ptr_array_insert(args, 2, s->console_path);
        }
        g_ptr_array_add(args, NULL);
        s->op = runtime_spawn(a, (const char *const *) args->pdata, req->tty ? NULL : child, on_spawned, s,
                              &r);
        for (int i = 0; i < 3; i++)
                safe_close(child[i]);
        if (!s->op) {
                *ret_error = g_strdup("cannot start the runtime");
                spawn_op_free(s);
                return r;
        }
        p->spawning = s;
        return 0;
}

int container_create(Agent *a, uint32_t id, JsonObject *req) {
        g_autofree char *rootfs = NULL, *config = NULL, *pid_file = NULL, *err = NULL, *text = NULL,
                        *cgroups = NULL, *sandbox_id = NULL;
        g_auto(GStrv) joined = NULL;
        g_autoptr(GPtrArray) args = g_ptr_array_new();
        g_autoptr(JsonNode) node = NULL;
        const char *cid = NULL;
        JsonObject *spec = NULL;
        Container *c;
        StdioReq s;
        struct stat st;
        int r;

        if (kc_json_get_id(req, "container-id", true, &cid) < 0 ||
            kc_json_get_object(req, "spec", true, &spec) < 0 || parse_stdio(req, &s) < 0) {
                channel_reply_error(a->channel, id, EINVAL,
                                    "create-container needs container-id, spec and valid stdio");
                return -EINVAL;
        }
        if (g_hash_table_contains(a->containers, cid)) {
                channel_reply_error(a->channel, id, EEXIST, "container %s exists", cid);
                return -EEXIST;
        }
        rootfs = g_build_filename(a->shared_dir, cid, "rootfs", NULL);
        if (stat(rootfs, &st) < 0 || !S_ISDIR(st.st_mode)) {
                channel_reply_error(a->channel, id, ENOENT,
                                    "no rootfs directory for %s in the shared directory", cid);
                return -ENOENT;
        }
        cgroups = agent_cgroup_path(a, cid);
        sandbox_id = g_strdup(spec_pod_sandbox_id(spec));
        joined = spec_joined_namespaces(spec);
        r = spec_translate(spec, cgroups, rootfs, a->shared_dir, s.tty, &err);
        if (r < 0) {
                channel_reply_error(a->channel, id, r, "invalid spec: %s", err);
                return r;
        }
        if (a->runtime_no_aslr)
                spec_set_default_personality(spec);
        if (sandbox_id && strcmp(sandbox_id, cid) != 0) {
                Container *sb = g_hash_table_lookup(a->containers, sandbox_id);
                if (sb && sb->init->pid > 0 && !sb->init->exited)
                        spec_join_sandbox_namespaces(spec, (const char *const *) joined, sb->init->pid);
                else
                        log_warning("Container %s: sandbox container %s is not running in the guest; "
                                    "not joining its namespaces",
                                    cid, sandbox_id);
        }

        c = g_new0(Container, 1);
        c->agent = a;
        c->id = g_strdup(cid);
        c->bundle = g_build_filename(a->state_dir, cid, NULL);
        c->execs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) process_free);
        c->init = process_new(c, NULL);
        (void) rm_rf(c->bundle);
        r = mkdir_p(c->bundle, 0700);
        if (r < 0) {
                channel_reply_error(a->channel, id, r, "cannot create the bundle directory");
                container_free(c);
                return r;
        }
        node = json_node_init_object(json_node_alloc(), spec);
        text = json_to_string(node, false);
        config = g_build_filename(c->bundle, "config.json", NULL);
        r = write_file_atomic(config, text, strlen(text), 0600, false);
        if (r < 0) {
                channel_reply_error(a->channel, id, r, "cannot write config.json");
                goto fail;
        }
        pid_file = g_build_filename(c->bundle, "pid", NULL);
        (void) unlink(pid_file);
        g_ptr_array_add(args, (char *) "create");
        if (a->no_pivot)
                /* The guest's root is the initramfs, which pivot_root cannot leave. */
                g_ptr_array_add(args, (char *) "--no-pivot");
        g_ptr_array_add(args, (char *) "--bundle");
        g_ptr_array_add(args, c->bundle);
        g_ptr_array_add(args, (char *) "--pid-file");
        g_ptr_array_add(args, pid_file);
        g_ptr_array_add(args, c->id);
        r = spawn_process(a, c->init, &s, args, g_strdup(pid_file), NULL, id, &err);
        if (r < 0) {
                channel_reply_error(a->channel, id, r, "%s", err ?: "create failed");
                goto fail;
        }
        /* Known from now on (duplicates are refused); the reply comes when the runtime is done. */
        c->status = CONTAINER_CREATED;
        g_hash_table_insert(a->containers, c->id, c);
        return 0;
fail:
        (void) rm_rf(c->bundle);
        container_free(c);
        return r;
}

int container_start(Agent *a, uint32_t id, JsonObject *req) {
        g_autofree char *err = NULL;
        Container *c;
        int r;

        c = agent_find(a, req, NULL, &r);
        if (!c) {
                channel_reply_error(a->channel, id, r, "no such container");
                return r;
        }
        if (c->status != CONTAINER_CREATED || c->init->spawning) {
                channel_reply_error(a->channel, id, EBUSY, "container %s is not in the created state",
                                    c->id);
                return -EBUSY;
        }
        const char *args[] = {"start", c->id, NULL};
        r = runtime_run(a, args, NULL, &err);
        if (r < 0) {
                channel_reply_error(a->channel, id, r, "%s", err ?: "start failed");
                return r;
        }
        if (c->status == CONTAINER_CREATED)
                c->status = CONTAINER_RUNNING;
        channel_reply_ok(a->channel, id, NULL);
        return 0;
}

int container_exec(Agent *a, uint32_t id, JsonObject *req) {
        g_autofree char *err = NULL, *text = NULL, *file = NULL, *pid_file = NULL, *name = NULL;
        g_autoptr(GPtrArray) args = g_ptr_array_new();
        g_autoptr(JsonNode) node = NULL;
        JsonObject *process = NULL;
        const char *eid = NULL;
        Container *c;
        Process *p;
        StdioReq s;
        int r;

        c = agent_find(a, req, NULL, &r);
        if (!c) {
                channel_reply_error(a->channel, id, r, "no such container");
                return r;
        }
        if (kc_json_get_id(req, "exec-id", true, &eid) < 0 ||
            kc_json_get_object(req, "process", true, &process) < 0 || parse_stdio(req, &s) < 0) {
                channel_reply_error(a->channel, id, EINVAL, "exec needs exec-id, process and valid stdio");
                return -EINVAL;
        }
        if (c->status != CONTAINER_RUNNING || c->paused) {
                channel_reply_error(a->channel, id, EBUSY, "container %s is %s", c->id,
                                    c->paused ? "paused" : "not running");
                return -EBUSY;
        }
        if (g_hash_table_contains(c->execs, eid)) {
                channel_reply_error(a->channel, id, EEXIST, "exec %s exists", eid);
                return -EEXIST;
        }
        r = spec_translate_process(process, s.tty, &err);
        if (r < 0) {
                channel_reply_error(a->channel, id, r, "invalid process: %s", err);
                return r;
        }
        r = container_check_program(c, process, &err);
        if (r < 0) {
                /* What a shell (and the host's exec) reports: 127 not found, 126 not executable. */
                g_autoptr(JsonObject) reply = kc_reply_new_error(r, "%s", err);
                json_object_set_int_member(reply, "exit-code", r == -EACCES ? 126 : 127);
                log_info("Request %u failed: %s", id, err);
                (void) channel_send_json(a->channel, KC_FRAME_REPLY, id, reply);
                return r;
        }
        node = json_node_init_object(json_node_alloc(), process);
        text = json_to_string(node, false);
        name = g_strdup_printf("exec-%s.json", eid);
        file = g_build_filename(c->bundle, name, NULL);
        pid_file = g_strdup_printf("%s/exec-%s.pid", c->bundle, eid);
        r = write_file_atomic(file, text, strlen(text), 0600, false);
        if (r < 0) {
                channel_reply_error(a->channel, id, r, "cannot write the process file");
                return r;
        }
        p = process_new(c, eid);
        g_ptr_array_add(args, (char *) "exec");
        g_ptr_array_add(args, (char *) "--process");
        g_ptr_array_add(args, file);
        g_ptr_array_add(args, (char *) "--pid-file");
        g_ptr_array_add(args, pid_file);
        g_ptr_array_add(args, (char *) "--detach");
        g_ptr_array_add(args, c->id);
        (void) unlink(pid_file);
        r = spawn_process(a, p, &s, args, g_strdup(pid_file), g_strdup(file), id, &err);
        if (r < 0) {
                (void) unlink(file);
                channel_reply_error(a->channel, id, r, "%s", err ?: "exec failed");
                process_free(p);
                return r;
        }
        /* The exec id is taken from now on; the reply comes when the runtime is done. */
        g_hash_table_insert(c->execs, p->exec_id, p);
        return 0;
}

int container_kill(Agent *a, Container *c, int sig, bool all, char **ret_error) {
        g_autofree char *signame = g_strdup_printf("%d", sig);

        if (!all) {
                if (c->init->exited)
                        return 0;
                return kill(c->init->pid, sig) < 0 && errno != ESRCH ? -errno : 0;
        }
        const char *args[] = {"kill", "--all", c->id, signame, NULL};
        return runtime_run(a, args, NULL, ret_error);
}

/* SIGKILLs a live process and collects it at once, so that the runtime never waits on a zombie. */
static void kill_and_reap(Process *p) {
        int status;

        if (!p || p->pid <= 0 || p->exited)
                return;
        (void) kill(p->pid, SIGKILL);
        if (waitpid(p->pid, &status, 0) == p->pid)
                process_on_exit(p, status);
}

int container_remove(Agent *a, Container *c, bool force, char **ret_error) {
        GHashTableIter it;
        gpointer value;
        int r;

        /* OCI: a created (never started) container may be deleted; a running one needs force. */
        if (!c->init->exited && c->status == CONTAINER_RUNNING && !force) {
                if (ret_error)
                        *ret_error = g_strdup_printf("container %s is running", c->id);
                return -EBUSY;
        }
        /* A frozen process (cgroup v1 freezer) would not even die of SIGKILL. */
        if (c->paused && !c->init->exited)
                (void) container_set_paused(a, c, false, NULL);
        g_hash_table_iter_init(&it, c->execs);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                spawn_cancel(value);
                kill_and_reap(value);
        }
        spawn_cancel(c->init);
        kill_and_reap(c->init);

        const char *args[] = {"delete", "--force", c->id, NULL};
        r = runtime_run(a, args, NULL, ret_error);
        if (r < 0)
                log_warning("Deleting container %s: %s", c->id,
                            ret_error && *ret_error ? *ret_error : "failed");

        g_hash_table_iter_init(&it, c->execs);
        while (g_hash_table_iter_next(&it, NULL, &value))
                process_finish(value);
        process_finish(c->init);
        (void) rm_rf(c->bundle);
        g_hash_table_remove(a->containers, c->id);
        container_free(c);
        return 0;
}

void agent_remove_all_containers(Agent *a) {
        GHashTableIter it;
        gpointer value;

        while (g_hash_table_size(a->containers) > 0) {
                g_autofree char *err = NULL;
                g_hash_table_iter_init(&it, a->containers);
                g_hash_table_iter_next(&it, NULL, &value);
                (void) container_remove(a, value, true, &err);
        }
}
