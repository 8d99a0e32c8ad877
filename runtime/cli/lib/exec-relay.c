/* The attached exec loop: stdin to the guest within its credit, guest output to our fds, SIGWINCH
 * to resize, catchable termination signals to the guest process, exit event to the exit status. */
#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "exec-relay.h"
#include "fd-util.h"
#include "log.h"
#include "macro.h"
#include "mux.h"

typedef struct Relay {
        const KrExecParams *p;
        KcAgentClient *c;
        GMainLoop *loop;
        char *exec_id;
        uint32_t in_stream, out_stream, err_stream;
        guint in_watch;
        char pending[16384]; /* stdin bytes read but not yet taken (no credit) */
        size_t pending_off, pending_len;
        bool started;
        bool in_done;
        int result; /* exit status, or -errno */
        bool finished;
} Relay;

char *kr_exec_id_new(void) {
        return g_strdup_printf("kr-%08x%08x", g_random_int(), g_random_int());
}

static void finish(Relay *r, int result) {
        if (r->finished)
                return;
        r->finished = true;
        r->result = result;
        if (r->loop)
                g_main_loop_quit(r->loop);
}

static void report_ready(Relay *r, const char *text) {
        if (r->p->ready_fd < 0)
                return;
        (void) write_all(r->p->ready_fd, text, strlen(text));
        (void) close(r->p->ready_fd);
        ((KrExecParams *) r->p)->ready_fd = -1;
}

static gboolean on_stdin(gint fd, GIOCondition cond, gpointer userdata);

static void watch_stdin(Relay *r) {
        if (r->in_watch == 0 && !r->in_done && r->in_stream != 0)
                r->in_watch = g_unix_fd_add(r->p->in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, r);
}

/* Hands pending stdin bytes to the client as far as the credit goes. Returns true when all went. */
static bool flush_pending(Relay *r) {
        while (r->pending_len > 0) {
                ssize_t taken = kc_agent_client_write(r->c, r->in_stream, r->pending + r->pending_off,
                                                      r->pending_len);
                if (taken < 0) {
                        r->in_done = true;
                        r->pending_len = 0;
                        return false;
                }
                if (taken == 0)
                        return false;
                r->pending_off += (size_t) taken;
                r->pending_len -= (size_t) taken;
        }
        return true;
}

static gboolean on_stdin(gint fd, GIOCondition cond, gpointer userdata) {
        Relay *r = userdata;
        ssize_t n;

        n = read(fd, r->pending, sizeof r->pending);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return G_SOURCE_CONTINUE;
        if (n <= 0) {
                /* EOF (or a read error): end the guest's stdin. */
                (void) kc_agent_client_write(r->c, r->in_stream, NULL, 0);
                r->in_done = true;
                r->in_watch = 0;
                return G_SOURCE_REMOVE;
        }
        r->pending_off = 0;
        r->pending_len = (size_t) n;
        if (flush_pending(r))
                return G_SOURCE_CONTINUE;
        /* Out of credit: stop reading until the writable callback. */
        r->in_watch = 0;
        return G_SOURCE_REMOVE;
}

static void on_data(KcAgentClient *c, uint32_t stream, const uint8_t *buf, size_t len, void *userdata) {
        Relay *r = userdata;
        int fd = stream == r->err_stream ? r->p->err_fd : r->p->out_fd;

        if (len == 0)
                return;
        /* Our reader going away must not stop the process: drop what cannot be written. */
        if (fd >= 0)
                (void) write_all(fd, buf, len);
        (void) kc_agent_client_consumed(c, stream, len);
}

static void on_event(KcAgentClient *c, const char *type, JsonObject *ev, void *userdata) {
        Relay *r = userdata;
        KcExitStatus st;

        if (strcmp(type, "exit") != 0 || kc_exit_status_parse(ev, true, &st) < 0)
                return;
        if (strcmp(st.container_id, r->p->container_id) != 0 || !st.exec_id ||
            strcmp(st.exec_id, r->exec_id) != 0)
                return;
        /* The agent sends exit after the last byte and end of every output stream. */
        finish(r, kc_exit_status_code(&st));
}

static void on_writable(KcAgentClient *c, uint32_t stream, void *userdata) {
        Relay *r = userdata;

        if (flush_pending(r))
                watch_stdin(r);
}

static void on_closed(KcAgentClient *c, int error, void *userdata) {
        Relay *r = userdata;

        if (!r->finished && r->loop)
                log_error_errno(error ? error : ECONNRESET,
                                "Connection to the sandbox lost before the process exited: %m");
        finish(r, error ? error : -ECONNRESET);
}

static void send_resize(Relay *r);

static void on_exec_reply(KcAgentClient *c, int result, JsonObject *reply, void *userdata) {
        Relay *r = userdata;
        const char *msg = NULL;

        if (result < 0) {
                g_autofree char *text = NULL;
                int64_t code = 0;

                if (reply) {
                        (void) kc_reply_parse(reply, &msg);
                        /* The program cannot be started: the status a shell reports (127, 126). */
                        (void) kc_json_get_int(reply, "exit-code", 126, 127, false, &code);
                }
                text = g_strdup_printf("exec failed: %s%s\n",
                                       code ? "unable to start container process: " : "",
                                       msg ? msg : strerror(-result));
                report_ready(r, text);
                log_error_errno(result, "Failed to exec in container %s: %s%s", r->p->container_id,
                                code ? "unable to start container process: " : "",
                                msg ? msg : strerror(-result));
                finish(r, code ? (int) code : result);
                return;
        }
        r->started = true;
        report_ready(r, "ok\n");
        if (r->p->tty)
                send_resize(r);
        watch_stdin(r);
}

static void on_ignored_reply(KcAgentClient *c, int result, JsonObject *reply, void *userdata) {
        if (result < 0)
                log_debug_errno(result, "%s request failed: %m", (const char *) userdata);
}

static void send_resize(Relay *r) {
        g_autoptr(JsonObject) req = NULL;
        struct winsize ws = {};

        if (r->p->winsize_fd < 0 || ioctl(r->p->winsize_fd, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 ||
            ws.ws_col == 0)
                return;
        req = kc_request_new("resize");
        json_object_set_string_member(req, "container-id", r->p->container_id);
        json_object_set_string_member(req, "exec-id", r->exec_id);
        json_object_set_int_member(req, "rows", ws.ws_row);
        json_object_set_int_member(req, "cols", ws.ws_col);
        (void) kc_agent_client_request(r->c, req, on_ignored_reply, (void *) "resize");
}

static gboolean on_winch(gpointer userdata) {
        Relay *r = userdata;

        if (r->started)
                send_resize(r);
        return G_SOURCE_CONTINUE;
}

typedef struct SignalForward {
        Relay *relay;
        int sig;
} SignalForward;

static gboolean on_signal(gpointer userdata) {
        SignalForward *f = userdata;
        g_autoptr(JsonObject) req = NULL;

        if (!f->relay->started)
                return G_SOURCE_CONTINUE;
        req = kc_request_new("signal");
        json_object_set_string_member(req, "container-id", f->relay->p->container_id);
        json_object_set_string_member(req, "exec-id", f->relay->exec_id);
        json_object_set_int_member(req, "signal", f->sig);
        json_object_set_boolean_member(req, "all", false);
        (void) kc_agent_client_request(f->relay->c, req, on_ignored_reply, (void *) "signal");
        return G_SOURCE_CONTINUE;
}

int kr_exec_run(const char *sandbox_dir, const KrExecParams *p) {
        static const KcAgentClientOps ops = {
                .event = on_event,
                .data = on_data,
                .writable = on_writable,
                .closed = on_closed,
        };
        static const int forwarded[] = {SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
        SignalForward fwd[ELEMENTSOF(forwarded)];
        guint sources[ELEMENTSOF(forwarded) + 1] = {};
        Relay r = {.p = p};
        g_autoptr(KcAgentClient) c = NULL;
        g_autoptr(JsonObject) req = NULL;
        int64_t id;

        id = kr_mux_connect(sandbox_dir, &ops, &r, KR_CALL_TIMEOUT_MS, &c);
        if (id < 0)
                return log_error_errno((int) id, "Failed to connect to the sandbox at %s: %m", sandbox_dir);
        r.c = c;
        r.loop = g_main_loop_new(NULL, false);
        r.exec_id = kr_exec_id_new();

        if (p->in_fd >= 0) {
                r.in_stream = kc_agent_client_stream_alloc(c, true);
                (void) fd_set_nonblock(p->in_fd, true);
        }
        r.out_stream = kc_agent_client_stream_alloc(c, false);
        if (!p->tty)
                r.err_stream = kc_agent_client_stream_alloc(c, false);

        req = kc_request_new("exec");
        json_object_set_string_member(req, "container-id", p->container_id);
        json_object_set_string_member(req, "exec-id", r.exec_id);
        json_object_set_object_member(req, "process", json_object_ref(p->process));
        json_object_set_boolean_member(req, "tty", p->tty);
        json_object_set_int_member(req, "stdin", r.in_stream);
        json_object_set_int_member(req, "stdout", r.out_stream);
        json_object_set_int_member(req, "stderr", r.err_stream);

        for (size_t i = 0; i < ELEMENTSOF(forwarded); i++) {
                fwd[i] = (SignalForward){&r, forwarded[i]};
                sources[i] = g_unix_signal_add(forwarded[i], on_signal, &fwd[i]);
        }
        if (p->tty)
                sources[ELEMENTSOF(forwarded)] = g_unix_signal_add(SIGWINCH, on_winch, &r);

        kc_agent_client_attach(c, NULL);
        id = kc_agent_client_request(c, req, on_exec_reply, &r);
        if (id < 0) {
                log_error_errno((int) id, "Failed to send the exec request: %m");
                r.result = (int) id;
        } else
                g_main_loop_run(r.loop);

        for (size_t i = 0; i < ELEMENTSOF(sources); i++)
                if (sources[i])
                        g_source_remove(sources[i]);
        if (r.in_watch)
                g_source_remove(r.in_watch);
        if (r.result >= 0 || r.started)
                (void) kc_agent_client_flush(c, 1000);
        report_ready(&r, "exec failed: connection lost\n");
        /* Our stdin may share its file description with the caller's terminal or pipe. */
        if (p->in_fd >= 0)
                (void) fd_set_nonblock(p->in_fd, false);
        g_main_loop_unref(r.loop);
        g_free(r.exec_id);
        return r.result;
}
