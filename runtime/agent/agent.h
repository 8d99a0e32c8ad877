/* kata-agent: shared state of the guest agent (containers, processes, streams, channel). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"
#include "message.h"

#define AGENT_SHARED_DIR "/run/kata-containers/shared/containers"
#define AGENT_STATE_DIR "/run/kata-agent"
#define AGENT_CHANNEL_NAME "agent.channel.0"
#define AGENT_MODULES_LIST "/lib/modules/kata-modules.load"
#define AGENT_EXIT_DRAIN_MS 2000

typedef struct Agent Agent;
typedef struct Container Container;
typedef struct Process Process;
typedef struct Channel Channel;

typedef struct OutStream {
        Process *proc;
        int fd;
        uint32_t id;
        uint64_t credit;
        guint watch;
        bool done; /* end-of-stream frame queued */
} OutStream;

struct Process {
        Container *container;
        char *exec_id; /* NULL for the container's init */
        pid_t pid;
        bool exited;
        int wstatus;
        bool exit_sent;
        bool tty;
        int tty_fd; /* pty master, -EBADF without a tty */

        int stdin_fd;
        uint32_t stdin_stream;
        GByteArray *stdin_buf;
        uint64_t stdin_received; /* bytes received and not yet credited back */
        uint64_t stdin_grant;    /* written to the process, not yet sent as a window frame */
        bool stdin_close;        /* close once the buffer is written */
        guint stdin_watch;

        OutStream out[2]; /* stdout, stderr */
        guint drain_timer;
        GArray *waiters;          /* uint32 request ids of "wait" requests */
        struct SpawnOp *spawning; /* the runtime is still creating it (create or exec) */
};

typedef enum ContainerStatus {
        CONTAINER_CREATED,
        CONTAINER_RUNNING,
        CONTAINER_STOPPED,
} ContainerStatus;

struct Container {
        Agent *agent;
        char *id;
        char *bundle;
        ContainerStatus status;
        Process *init;
        GHashTable *execs; /* exec id -> Process */
        uint64_t oom_kills;
        bool paused; /* frozen by the runtime (pause-container) */
};

struct Agent {
        GMainLoop *loop;
        Channel *channel;
        bool init_mode;
        bool no_pivot; /* / is the initramfs itself: crun must use --no-pivot */
        /* Under TCG the runtime runs without address space randomisation: see runtime.c. */
        bool runtime_no_aslr;
        const char *runtime;
        char **runtime_args;
        const char *runtime_root;
        const char *shared_dir;
        const char *state_dir;
        const char *cgroup_root;
        GHashTable *containers;  /* id -> Container */
        GHashTable *pids;        /* pid -> Process */
        GHashTable *in_streams;  /* stream id -> Process (stdin) */
        GHashTable *out_streams; /* stream id -> OutStream */
        GHashTable *runtime_ops; /* runtime pid -> RuntimeOp */
        GHashTable *unclaimed;   /* pid -> wait status: exits reaped while a runtime op was pending */
        unsigned socket_counter;
        int exit_status;
};

/* channel.c: frames on the host channel. */
Channel *channel_new(Agent *a, int fd, bool guest_port);
void channel_free(Channel *ch);
int channel_send_json(Channel *ch, KcFrameKind kind, uint32_t id, JsonObject *obj);
int channel_send_data(Channel *ch, uint32_t stream, const void *buf, size_t len);
int channel_send_window(Channel *ch, uint32_t stream, uint32_t increment);
void channel_reply_error(Channel *ch, uint32_t id, int error, const char *format, ...) G_GNUC_PRINTF(4, 5);
void channel_reply_ok(Channel *ch, uint32_t id, JsonObject *result);
/* Blocks (bounded by timeout_ms) until the queue is written: used before power-off. */
void channel_flush(Channel *ch, int timeout_ms);
void channel_send_hello(Channel *ch);

/* requests.c: dispatch of one request. */
void agent_handle_request(Agent *a, uint32_t id, JsonObject *req);

/* process.c: stdio pumps and exits. */
Process *process_new(Container *c, const char *exec_id);
void process_free(Process *p);
int process_setup_stdio(Process *p, bool tty, uint32_t in, uint32_t out, uint32_t err, int ret_child_fds[3]);
int process_attach_tty(Process *p, int master);
void process_started(Process *p, pid_t pid);
void process_on_exit(Process *p, int wstatus);
void process_finish(Process *p);
void process_stdin_data(Process *p, const uint8_t *buf, size_t len);
int process_close_stdin(Process *p);
void process_out_credit(OutStream *o, uint32_t increment);
void process_add_waiter(Process *p, uint32_t request_id);
void agent_reap(Agent *a);

/* container.c: runtime invocations. */
int container_create(Agent *a, uint32_t id, JsonObject *req);
int container_start(Agent *a, uint32_t id, JsonObject *req);
int container_exec(Agent *a, uint32_t id, JsonObject *req);
int container_remove(Agent *a, Container *c, bool force, char **ret_error);
int container_kill(Agent *a, Container *c, int sig, bool all, char **ret_error);
Container *agent_find(Agent *a, JsonObject *req, Process **ret_proc, int *ret_error);
/* control.c: update/pause/resume requests, the exec program check. */
void container_on_update(Agent *a, uint32_t id, JsonObject *req);
void container_on_pause(Agent *a, uint32_t id, JsonObject *req, bool pause);
int container_set_paused(Agent *a, Container *c, bool pause, char **ret_error);
/* 0 when the program of an exec's process exists and is executable in the container; -ENOENT or
 * -EACCES (a shell's 127 or 126) with a message in *ret_error. */
int container_check_program(Container *c, JsonObject *process, char **ret_error);
/* runtime.c: the OCI runtime, synchronously (short verbs) or as an operation the reaper completes. */
typedef struct RuntimeOp RuntimeOp;
typedef void (*RuntimeDone)(Agent *a, int result, const char *error, void *userdata);
/* Runs "<runtime> --root <dir> [runtime args] <args...>"; 0, or -EIO with the runtime's error output
 * in *ret_error. */
int runtime_run(Agent *a, const char *const *args, const int stdio[3], char **ret_error);
/* Starts the runtime and returns at once; done() runs from the reaper when it exits. */
RuntimeOp *runtime_spawn(Agent *a, const char *const *args, const int stdio[3], RuntimeDone done,
                         void *userdata, int *ret_error);
/* From agent_reap(): true when pid was a runtime operation (now completed). */
bool runtime_op_reaped(Agent *a, pid_t pid, int status);
/* Kills and collects the runtime at once; done() is not called. */
void runtime_op_cancel(RuntimeOp *op);
void agent_remove_all_containers(Agent *a);

/* stats.c: cgroup2 statistics and OOM watching. */
/* "/kata/<id>" in the guest; "/kata-<id>" in host mode, one level that the runtime removes with the
 * container (so host-mode tests leave no empty parent cgroup behind). */
char *agent_cgroup_path(Agent *a, const char *container_id);
int container_stats(Agent *a, Container *c, JsonObject *result);
/* Sends an oom event when the container's oom_kill counter grew (also checked when its init exits,
 * before the exit event, so that an OOM kill that ends the container is reported). */
void container_check_oom(Agent *a, Container *c);
void agent_check_oom(Agent *a);

/* spec.c: OCI spec translation for the guest (pure). */
/* cgroups_path: where the container's cgroup goes (agent_cgroup_path()). */
int spec_translate(JsonObject *spec, const char *cgroups_path, const char *rootfs, const char *shared_dir,
                   bool tty, char **ret_error);
int spec_translate_process(JsonObject *process, bool tty, char **ret_error);
/* Gives the spec an explicit linux.personality (domain LINUX) when it has none, so that the
 * container process gets the default personality back whatever the runtime ran with. */
void spec_set_default_personality(JsonObject *spec);
const char *spec_pod_sandbox_id(JsonObject *spec);
char **spec_joined_namespaces(JsonObject *spec);
void spec_join_sandbox_namespaces(JsonObject *spec, const char *const *joined, pid_t sandbox_pid);

/* sandbox.c */
int sandbox_create(Agent *a, JsonObject *req, const char **ret_fs, char **ret_error);

/* network.c: validates create-sandbox's interfaces and routes; configures them (and lo) when apply. */
int network_configure(JsonObject *req, bool apply, char **ret_error);
void sandbox_destroy(Agent *a) G_GNUC_NORETURN;

/* init.c: PID 1 duties. */
/* modules.c: the image's kernel modules, by group (see the file's head comment). */
typedef struct {
        char *path;
        char *group; /* "" before the first "@NAME" line: in every group */
} ModuleEntry;
void module_entry_free(ModuleEntry *e);
GPtrArray *modules_parse(const char *text); /* pure */
int modules_read(const char *list);
bool modules_load_next(void); /* the next untried module in file order; false when none is left */
void modules_load_group(const char *group);
void modules_load_all(void);
/* After delay_ms, the modules not loaded yet, one per idle main-loop turn (once). */
void modules_load_later(unsigned delay_ms);

int init_setup(void);
bool init_cmdline_has(const char *word);
int init_protect_runtime(const char *path);
int init_find_channel(const char *name, int timeout_ms);
void init_poweroff(void) G_GNUC_NORETURN;
bool init_root_is_initramfs(void);
/* Seconds since the guest booted (boot-time diagnostics). */
double init_uptime(void);
