/* kata-agent: a container process's stdio pumps (credit-limited), stdin, exit reporting, reaping. */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "fd-util.h"
#include "log.h"
#include "macro.h"

#define READ_CHUNK 32768u

static void out_stream_stop(OutStream *o);
static void maybe_report_exit(Process *p);

Process *process_new(Container *c, const char *exec_id) {
        Process *p = g_new0(Process, 1);

        p->container = c;
        p->exec_id = g_strdup(exec_id);
        p->tty_fd = -EBADF;
        p->stdin_fd = -EBADF;
        p->stdin_buf = g_byte_array_new();
        p->waiters = g_array_new(false, false, sizeof(uint32_t));
        for (size_t i = 0; i < ELEMENTSOF(p->out); i++)
                p->out[i] = (OutStream){.proc = p, .fd = -EBADF};
        return p;
}

static Agent *proc_agent(Process *p) {
        return p->container->agent;
}

static void stdin_stop(Process *p) {
        Agent *a = proc_agent(p);

        if (p->stdin_watch)
                g_source_remove(p->stdin_watch);
        p->stdin_watch = 0;
        if (p->stdin_stream)
                g_hash_table_remove(a->in_streams, GUINT_TO_POINTER(p->stdin_stream));
        p->stdin_stream = 0;
        if (p->stdin_fd != p->tty_fd)
                safe_close(p->stdin_fd);
        p->stdin_fd = -EBADF;
        g_byte_array_set_size(p->stdin_buf, 0);
}

void process_free(Process *p) {
        Agent *a;

        if (!p)
                return;
        a = proc_agent(p);
        stdin_stop(p);
        for (size_t i = 0; i < ELEMENTSOF(p->out); i++) {
                OutStream *o = &p->out[i];
                if (o->watch)
                        g_source_remove(o->watch);
                if (o->id)
                        g_hash_table_remove(a->out_streams, GUINT_TO_POINTER(o->id));
                if (o->fd != p->tty_fd)
                        safe_close(o->fd);
        }
        safe_close(p->tty_fd);
        if (p->drain_timer)
                g_source_remove(p->drain_timer);
        if (p->pid > 0 && g_hash_table_lookup(a->pids, GINT_TO_POINTER(p->pid)) == p)
                g_hash_table_remove(a->pids, GINT_TO_POINTER(p->pid));
        g_byte_array_unref(p->stdin_buf);
        g_array_unref(p->waiters);
        g_free(p->exec_id);
        g_free(p);
}

static gboolean on_out_readable(int fd, GIOCondition cond, gpointer userdata);

static void out_stream_watch(OutStream *o) {
        if (o->watch || o->fd < 0 || o->done || o->credit == 0)
                return;
        o->watch = g_unix_fd_add(o->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_out_readable, o);
}

/* Ends a stream: closes our end and queues the end-of-stream frame. */
static void out_stream_stop(OutStream *o) {
        Process *p = o->proc;
        Agent *a = proc_agent(p);

        if (o->done)
                return;
        if (o->watch)
                g_source_remove(o->watch);
        o->watch = 0;
        if (o->fd != p->tty_fd)
                safe_close(o->fd);
        o->fd = -EBADF;
        o->done = true;
        if (o->id) {
                (void) channel_send_data(a->channel, o->id, NULL, 0);
                g_hash_table_remove(a->out_streams, GUINT_TO_POINTER(o->id));
        }
}

static gboolean on_out_readable(int fd, GIOCondition cond, gpointer userdata) {
        OutStream *o = userdata;
        Process *p = o->proc;
        uint8_t buf[READ_CHUNK];
        size_t want = MIN((uint64_t) sizeof buf, o->credit);
        ssize_t n;

        n = read(fd, buf, want);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return G_SOURCE_CONTINUE;
        if (n <= 0) {
                /* EOF, or EIO on a pty master whose last slave closed. */
                o->watch = 0;
                out_stream_stop(o);
                maybe_report_exit(p);
                return G_SOURCE_REMOVE;
        }
        o->credit -= (uint64_t) n;
        (void) channel_send_data(proc_agent(p)->channel, o->id, buf, (size_t) n);
        if (o->credit == 0) {
                o->watch = 0;
                return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
}

void process_out_credit(OutStream *o, uint32_t increment) {
        if (o->done)
                return;
        o->credit = MIN(o->credit + increment, (uint64_t) KC_STREAM_ID_MAX);
        out_stream_watch(o);
}

static int out_stream_init(Process *p, OutStream *o, int fd, uint32_t id) {
        Agent *a = proc_agent(p);

        if (id == 0) {
                /* Nobody listens: keep reading so the process never blocks, and drop the bytes. */
                o->credit = UINT32_MAX;
        } else {
                if (g_hash_table_contains(a->out_streams, GUINT_TO_POINTER(id)) ||
                    g_hash_table_contains(a->in_streams, GUINT_TO_POINTER(id)))
                        return -EEXIST;
                o->credit = KC_WINDOW_INITIAL;
                g_hash_table_insert(a->out_streams, GUINT_TO_POINTER(id), o);
        }
        o->fd = fd;
        o->id = id;
        (void) fd_set_nonblock(fd, true);
        return 0;
}

static int stdin_init(Process *p, int fd, uint32_t id) {
        Agent *a = proc_agent(p);

        if (id != 0) {
                if (g_hash_table_contains(a->out_streams, GUINT_TO_POINTER(id)) ||
                    g_hash_table_contains(a->in_streams, GUINT_TO_POINTER(id)))
                        return -EEXIST;
                g_hash_table_insert(a->in_streams, GUINT_TO_POINTER(id), p);
        }
        p->stdin_fd = fd;
        p->stdin_stream = id;
        (void) fd_set_nonblock(fd, true);
        return 0;
}

/* Without a tty: three pipes. ret_child_fds gets the child's ends (stdin, stdout, stderr). */
int process_setup_stdio(Process *p, bool tty, uint32_t in, uint32_t out, uint32_t err,
                        int ret_child_fds[3]) {
        int fds[3][2] = {{-EBADF, -EBADF}, {-EBADF, -EBADF}, {-EBADF, -EBADF}};
        int r;

        if ((in && (in == out || in == err)) || (out && out == err))
                return -EINVAL;
        p->tty = tty;
        if (tty) {
                /* The pty arrives later through the console socket. */
                p->stdin_stream = in;
                p->out[0].id = out;
                ret_child_fds[0] = ret_child_fds[1] = ret_child_fds[2] = -EBADF;
                return 0;
        }
        for (int i = 0; i < 3; i++)
                if (pipe2(fds[i], O_CLOEXEC) < 0) {
                        r = -errno;
                        goto fail;
                }
        r = stdin_init(p, fds[0][1], in);
        if (r < 0)
                goto fail;
        fds[0][1] = -EBADF;
        r = out_stream_init(p, &p->out[0], fds[1][0], out);
        if (r < 0)
                goto fail;
        fds[1][0] = -EBADF;
        r = out_stream_init(p, &p->out[1], fds[2][0], err);
        if (r < 0)
                goto fail;
        fds[2][0] = -EBADF;
        ret_child_fds[0] = fds[0][0];
        ret_child_fds[1] = fds[1][1];
        ret_child_fds[2] = fds[2][1];
        return 0;
fail:
        for (int i = 0; i < 3; i++) {
                safe_close(fds[i][0]);
                safe_close(fds[i][1]);
        }
        return r;
}

int process_attach_tty(Process *p, int master) {
        uint32_t in = p->stdin_stream, out = p->out[0].id;
        int r;

        p->tty_fd = master;
        p->stdin_stream = 0;
        p->out[0].id = 0;
        r = stdin_init(p, master, in);
        if (r < 0)
                return r;
        r = out_stream_init(p, &p->out[0], master, out);
        if (r < 0)
                return r;
        /* No stderr stream with a tty. */
        p->out[1].done = true;
        return 0;
}

void process_started(Process *p, pid_t pid) {
        Agent *a = proc_agent(p);
        gpointer status;

        p->pid = pid;
        g_hash_table_insert(a->pids, GINT_TO_POINTER(pid), p);
        for (size_t i = 0; i < ELEMENTSOF(p->out); i++)
                out_stream_watch(&p->out[i]);
        /* It may have exited (and been reaped) before its runtime did: a detached exec that is quick. */
        if (g_hash_table_lookup_extended(a->unclaimed, GINT_TO_POINTER(pid), NULL, &status)) {
                g_hash_table_remove(a->unclaimed, GINT_TO_POINTER(pid));
                process_on_exit(p, GPOINTER_TO_INT(status));
        }
}

static gboolean on_drain_timeout(gpointer userdata) {
        Process *p = userdata;
        bool waiting = false;

        log_debug("Output of pid %d still open %d ms after its exit, closing it", (int) p->pid,
                  AGENT_EXIT_DRAIN_MS);
        for (size_t i = 0; i < ELEMENTSOF(p->out); i++) {
                OutStream *o = &p->out[i];
                /* A stream waiting for the host's credit still has bytes to deliver: never drop them. */
                if (!o->done && o->fd >= 0 && o->credit == 0) {
                        waiting = true;
                        continue;
                }
                out_stream_stop(o);
        }
        if (waiting)
                return G_SOURCE_CONTINUE;
        p->drain_timer = 0;
        maybe_report_exit(p);
        return G_SOURCE_REMOVE;
}

static void fill_status(Process *p, JsonObject *o) {
        json_object_set_string_member(o, "container-id", p->container->id);
        if (p->exec_id)
                json_object_set_string_member(o, "exec-id", p->exec_id);
        json_object_set_int_member(o, "pid", p->pid);
        kc_exit_status_to_json(o, p->wstatus);
}

static void answer_waiters(Process *p) {
        Agent *a = proc_agent(p);

        for (guint i = 0; i < p->waiters->len; i++) {
                g_autoptr(JsonObject) st = json_object_new();
                fill_status(p, st);
                channel_reply_ok(a->channel, g_array_index(p->waiters, uint32_t, i), st);
        }
        g_array_set_size(p->waiters, 0);
}

static void maybe_report_exit(Process *p) {
        Agent *a = proc_agent(p);
        g_autoptr(JsonObject) ev = NULL;

        if (p->exit_sent)
                answer_waiters(p);
        if (!p->exited || p->exit_sent)
                return;
        for (size_t i = 0; i < ELEMENTSOF(p->out); i++)
                if (!p->out[i].done && p->out[i].fd >= 0)
                        return;
        if (p->drain_timer)
                g_source_remove(p->drain_timer);
        p->drain_timer = 0;
        p->exit_sent = true;
        stdin_stop(p);
        ev = kc_event_new("exit");
        fill_status(p, ev);
        (void) channel_send_json(a->channel, KC_FRAME_EVENT, 0, ev);
        answer_waiters(p);
}

void process_add_waiter(Process *p, uint32_t request_id) {
        g_array_append_val(p->waiters, request_id);
        maybe_report_exit(p);
}

/* Ends every stream now (the process is being removed) and reports the exit if it is known. */
void process_finish(Process *p) {
        for (size_t i = 0; i < ELEMENTSOF(p->out); i++)
                out_stream_stop(&p->out[i]);
        maybe_report_exit(p);
}

void process_on_exit(Process *p, int wstatus) {
        p->exited = true;
        p->wstatus = wstatus;
        if (!p->exec_id) {
                p->container->status = CONTAINER_STOPPED;
                /* Before the exit event: the host records an OOM kill only while the container lives. */
                container_check_oom(proc_agent(p), p->container);
        }
        g_hash_table_remove(proc_agent(p)->pids, GINT_TO_POINTER(p->pid));
        log_info("Container %s%s%s pid %d exited (status 0x%x)", p->container->id,
                 p->exec_id ? " exec " : "", p->exec_id ?: "", (int) p->pid, wstatus);
        if (!p->drain_timer)
                p->drain_timer = g_timeout_add(AGENT_EXIT_DRAIN_MS, on_drain_timeout, p);
        maybe_report_exit(p);
}

static void stdin_flush(Process *p);

static gboolean on_stdin_writable(int fd, GIOCondition cond, gpointer userdata) {
        Process *p = userdata;

        p->stdin_watch = 0;
        stdin_flush(p);
        return G_SOURCE_REMOVE;
}

static void stdin_grant(Process *p, size_t n) {
        Agent *a = proc_agent(p);

        p->stdin_grant += n;
        if (p->stdin_grant >= KC_WINDOW_INITIAL / 4 && p->stdin_stream) {
                (void) channel_send_window(a->channel, p->stdin_stream, (uint32_t) p->stdin_grant);
                p->stdin_received -= p->stdin_grant;
                p->stdin_grant = 0;
        }
}

static void stdin_flush(Process *p) {
        while (p->stdin_buf->len > 0 && p->stdin_fd >= 0) {
                ssize_t n = write(p->stdin_fd, p->stdin_buf->data, p->stdin_buf->len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                if (!p->stdin_watch)
                                        p->stdin_watch = g_unix_fd_add(p->stdin_fd, G_IO_OUT | G_IO_ERR,
                                                                       on_stdin_writable, p);
                                return;
                        }
                        /* EPIPE: the reader is gone; drop what is left. */
                        n = (ssize_t) p->stdin_buf->len;
                }
                g_byte_array_remove_range(p->stdin_buf, 0, (guint) n);
                stdin_grant(p, (size_t) n);
        }
        if (p->stdin_close && p->stdin_buf->len == 0) {
                if (p->tty_fd >= 0 && p->stdin_fd == p->tty_fd) {
                        /* A terminal has no half-close: send the EOF character instead. */
                        static const char eot = 0x04;
                        (void) write(p->tty_fd, &eot, 1);
                        if (p->stdin_stream)
                                g_hash_table_remove(proc_agent(p)->in_streams,
                                                    GUINT_TO_POINTER(p->stdin_stream));
                        p->stdin_stream = 0;
                        p->stdin_fd = -EBADF;
                } else
                        stdin_stop(p);
                p->stdin_close = false;
        }
}

void process_stdin_data(Process *p, const uint8_t *buf, size_t len) {
        if (len == 0) {
                (void) process_close_stdin(p);
                return;
        }
        p->stdin_received += len;
        if (p->stdin_fd < 0) {
                /* Nobody reads any more: drop the bytes but keep the host's credit flowing. */
                stdin_grant(p, len);
                return;
        }
        g_byte_array_append(p->stdin_buf, buf, (guint) len);
        stdin_flush(p);
}

int process_close_stdin(Process *p) {
        if (p->stdin_fd < 0)
                return 0;
        p->stdin_close = true;
        stdin_flush(p);
        return 0;
}

void agent_reap(Agent *a) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                Process *p;

                if (pid <= 0)
                        break;
                if (runtime_op_reaped(a, pid, status)) {
                        /* Exits nobody claimed while the runtime worked cannot be claimed any more. */
                        if (g_hash_table_size(a->runtime_ops) == 0)
                                g_hash_table_remove_all(a->unclaimed);
                        continue;
                }
                p = g_hash_table_lookup(a->pids, GINT_TO_POINTER(pid));
                if (p)
                        process_on_exit(p, status);
                else if (g_hash_table_size(a->runtime_ops) > 0 && g_hash_table_size(a->unclaimed) < 4096)
                        g_hash_table_insert(a->unclaimed, GINT_TO_POINTER(pid), GINT_TO_POINTER(status));
                else
                        log_debug("Reaped orphan %d", (int) pid);
        }
}
