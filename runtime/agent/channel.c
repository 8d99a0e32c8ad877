/* kata-agent: the host channel: non-blocking frame I/O, dispatch, reconnects of the virtio port. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/utsname.h>
#include <glib-unix.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "fd-util.h"
#include "log.h"
#include "macro.h"

#define IN_CAPACITY (KC_FRAME_HEADER_SIZE + KC_FRAME_MAX_REQUEST_PAYLOAD)
#define OUT_MAX (32u * 1024u * 1024u)

struct Channel {
        Agent *agent;
        int fd;
        bool guest_port; /* a virtio port: EOF/HUP means "host not connected", not the end */
        bool connected;
        uint8_t *in;
        size_t in_len;
        GByteArray *out;
        size_t out_off;
        guint watch;
        GIOCondition watch_cond;
        guint reconnect_timer;
};

static void channel_update_watch(Channel *ch);

static void channel_fatal(Channel *ch, int error, const char *what) {
        log_error_errno(error, "Host channel: %s: %m", what);
        if (ch->guest_port) {
                /* The host will see the VM die; nothing else can resync a corrupt stream. */
                init_poweroff();
        }
        ch->agent->exit_status = 1;
        agent_remove_all_containers(ch->agent);
        g_main_loop_quit(ch->agent->loop);
}

void channel_send_hello(Channel *ch) {
        g_autoptr(JsonObject) ev = kc_event_new("hello");
        struct utsname u;

        if (uname(&u) < 0)
                g_strlcpy(u.release, "unknown", sizeof u.release);
        json_object_set_int_member(ev, "protocol", KC_PROTOCOL_VERSION);
        json_object_set_string_member(ev, "agent-version", PACKAGE_VERSION);
        json_object_set_string_member(ev, "kernel", u.release);
        (void) channel_send_json(ch, KC_FRAME_EVENT, 0, ev);
}

static void flush_some(Channel *ch) {
        while (ch->connected && ch->out->len > ch->out_off) {
                ssize_t n = write(ch->fd, ch->out->data + ch->out_off, ch->out->len - ch->out_off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                log_warning_errno(errno, "Host channel write failed: %m");
                        break;
                }
                ch->out_off += (size_t) n;
        }
        if (ch->out_off == ch->out->len) {
                g_byte_array_set_size(ch->out, 0);
                ch->out_off = 0;
        } else if (ch->out_off > 65536 && ch->out_off > ch->out->len / 2) {
                g_byte_array_remove_range(ch->out, 0, (guint) ch->out_off);
                ch->out_off = 0;
        }
        channel_update_watch(ch);
}

static int queue_check(Channel *ch) {
        if (ch->out->len - ch->out_off > OUT_MAX) {
                log_error("Host channel: outgoing queue full, dropping a frame");
                return -ENOBUFS;
        }
        return 0;
}

int channel_send_json(Channel *ch, KcFrameKind kind, uint32_t id, JsonObject *obj) {
        int r = queue_check(ch);
        if (r < 0)
                return r;
        r = kc_json_append_frame(ch->out, kind, id, obj);
        if (r < 0)
                return log_error_errno(r, "Cannot encode a %s frame: %m", kc_frame_kind_to_string(kind));
        flush_some(ch);
        return 0;
}

int channel_send_data(Channel *ch, uint32_t stream, const void *buf, size_t len) {
        int r = kc_frame_append(ch->out, KC_FRAME_DATA, stream, buf, len);
        if (r < 0)
                return r;
        flush_some(ch);
        return 0;
}

int channel_send_window(Channel *ch, uint32_t stream, uint32_t increment) {
        int r = kc_frame_append_window(ch->out, stream, increment);
        if (r < 0)
                return r;
        flush_some(ch);
        return 0;
}

void channel_reply_ok(Channel *ch, uint32_t id, JsonObject *result) {
        g_autoptr(JsonObject) ok = kc_reply_new_ok();

        if (result) {
                JsonObjectIter it;
                const char *name;
                JsonNode *node;

                json_object_iter_init(&it, result);
                while (json_object_iter_next(&it, &name, &node))
                        json_object_set_member(ok, name, json_node_copy(node));
        }
        (void) channel_send_json(ch, KC_FRAME_REPLY, id, ok);
}

void channel_reply_error(Channel *ch, uint32_t id, int error, const char *format, ...) {
        g_autoptr(JsonObject) reply = NULL;
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, format);
        msg = g_strdup_vprintf(format, ap);
        va_end(ap);
        log_info("Request %u failed: %s (%s)", id, msg, g_strerror(ABS(error)));
        reply = kc_reply_new_error(error, "%s", msg);
        (void) channel_send_json(ch, KC_FRAME_REPLY, id, reply);
}

void channel_flush(Channel *ch, int timeout_ms) {
        int64_t deadline = g_get_monotonic_time() + (int64_t) timeout_ms * 1000;

        while (ch->connected && ch->out->len > ch->out_off) {
                struct pollfd p = {.fd = ch->fd, .events = POLLOUT};
                int64_t left = (deadline - g_get_monotonic_time()) / 1000;

                if (left <= 0)
                        break;
                if (poll(&p, 1, (int) left) <= 0)
                        break;
                flush_some(ch);
                if (p.revents & (POLLERR | POLLHUP))
                        break;
        }
}

static int handle_frame(Channel *ch, const KcFrame *f) {
        Agent *a = ch->agent;

        switch (f->kind) {
        case KC_FRAME_REQUEST: {
                g_autoptr(JsonObject) req = NULL;
                int r = kc_json_parse_object(f->payload, f->length, &req);
                if (r < 0) {
                        channel_reply_error(ch, f->id, r, "request is not a valid, bounded JSON object");
                        return 0;
                }
                agent_handle_request(a, f->id, req);
                return 0;
        }
        case KC_FRAME_DATA: {
                Process *p = g_hash_table_lookup(a->in_streams, GUINT_TO_POINTER(f->id));
                if (!p)
                        return 0; /* raced with the stream's end */
                if (p->stdin_received + f->length > KC_WINDOW_INITIAL)
                        return -EPROTO;
                process_stdin_data(p, f->payload, f->length);
                return 0;
        }
        case KC_FRAME_WINDOW: {
                OutStream *o = g_hash_table_lookup(a->out_streams, GUINT_TO_POINTER(f->id));
                if (o)
                        process_out_credit(o, f->window);
                return 0;
        }
        case KC_FRAME_REPLY:
        case KC_FRAME_EVENT:
                break;
        }
        return -EPROTO;
}

static void process_input(Channel *ch) {
        size_t off = 0;

        for (;;) {
                KcFrame f;
                size_t used;
                int r;

                r = kc_frame_decode(ch->in + off, ch->in_len - off, KC_FRAME_MAX_REQUEST_PAYLOAD, &f, &used);
                if (r == 0)
                        break;
                if (r > 0)
                        r = handle_frame(ch, &f);
                if (r < 0) {
                        ch->in_len = 0;
                        channel_fatal(ch, r, "protocol error");
                        return;
                }
                off += used;
        }
        memmove(ch->in, ch->in + off, ch->in_len - off);
        ch->in_len -= off;
}

static gboolean on_reconnect_timer(gpointer userdata);

static void set_disconnected(Channel *ch) {
        ch->connected = false;
        ch->in_len = 0;
        g_byte_array_set_size(ch->out, 0);
        ch->out_off = 0;
        if (!ch->reconnect_timer)
                ch->reconnect_timer = g_timeout_add(10, on_reconnect_timer, ch);
        channel_update_watch(ch);
}

static void set_connected(Channel *ch) {
        ch->connected = true;
        log_info("Host channel connected (uptime %.3f s)", init_uptime());
        channel_send_hello(ch);
        channel_update_watch(ch);
}

static gboolean on_reconnect_timer(gpointer userdata) {
        Channel *ch = userdata;
        struct pollfd p = {.fd = ch->fd, .events = POLLIN | POLLOUT};

        if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)) {
                ch->reconnect_timer = 0;
                set_connected(ch);
                return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
}

static gboolean on_io(int fd, GIOCondition cond, gpointer userdata) {
        Channel *ch = userdata;

        if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
                ssize_t n = read(ch->fd, ch->in + ch->in_len, IN_CAPACITY - ch->in_len);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        return G_SOURCE_CONTINUE;
                if (n <= 0) {
                        if (ch->guest_port) {
                                log_info("Host channel disconnected, waiting for the host");
                                ch->watch = 0;
                                set_disconnected(ch);
                                return G_SOURCE_REMOVE;
                        }
                        log_info("Host channel closed, cleaning up");
                        ch->watch = 0;
                        agent_remove_all_containers(ch->agent);
                        g_main_loop_quit(ch->agent->loop);
                        return G_SOURCE_REMOVE;
                }
                ch->in_len += (size_t) n;
                process_input(ch);
        }
        if (cond & G_IO_OUT)
                flush_some(ch);
        return G_SOURCE_CONTINUE;
}

static void channel_update_watch(Channel *ch) {
        GIOCondition cond = 0;

        if (ch->connected)
                cond = G_IO_IN | (ch->out->len > ch->out_off ? G_IO_OUT : 0);
        if (cond == ch->watch_cond && (ch->watch != 0) == (cond != 0))
                return;
        if (ch->watch)
                g_source_remove(ch->watch);
        ch->watch = 0;
        ch->watch_cond = cond;
        if (cond)
                ch->watch = g_unix_fd_add(ch->fd, cond, on_io, ch);
}

Channel *channel_new(Agent *a, int fd, bool guest_port) {
        Channel *ch = g_new0(Channel, 1);
        struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};

        ch->agent = a;
        ch->fd = fd;
        ch->guest_port = guest_port;
        ch->in = g_malloc(IN_CAPACITY);
        ch->out = g_byte_array_new();
        (void) fd_set_nonblock(fd, true);
        (void) fd_set_cloexec(fd, true);
        if (guest_port && poll(&p, 1, 0) >= 0 && (p.revents & POLLHUP)) {
                log_info("Host channel not connected yet, waiting");
                set_disconnected(ch);
        } else
                set_connected(ch);
        return ch;
}

void channel_free(Channel *ch) {
        if (!ch)
                return;
        if (ch->watch)
                g_source_remove(ch->watch);
        if (ch->reconnect_timer)
                g_source_remove(ch->reconnect_timer);
        safe_close(ch->fd);
        g_byte_array_unref(ch->out);
        g_free(ch->in);
        g_free(ch);
}
