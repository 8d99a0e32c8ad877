/* Unit tests for the agent client against a scripted fake agent on a socketpair. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <glib-unix.h>
#include <glib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "fd-util.h"

typedef struct Peer {
        int fd; /* the fake agent's end */
        GByteArray *in;
} Peer;

typedef struct Seen {
        int closed_error;
        int closed_calls;
        int replies;
        int last_result;
        uint32_t order[8];
        GByteArray *data;
        int data_eof;
        int writable;
        int events;
} Seen;

static void send_raw(Peer *p, const void *buf, size_t len) {
        g_assert_cmpint(write_all(p->fd, buf, len), ==, 0);
}

static void send_frame(Peer *p, KcFrameKind kind, uint32_t id, const char *payload, size_t len) {
        g_autoptr(GByteArray) b = g_byte_array_new();
        g_assert_cmpint(kc_frame_append(b, kind, id, payload, len), ==, 0);
        send_raw(p, b->data, b->len);
}

static void send_json(Peer *p, KcFrameKind kind, uint32_t id, const char *json) {
        send_frame(p, kind, id, json, strlen(json));
}

static void send_hello(Peer *p) {
        send_json(p, KC_FRAME_EVENT, 0,
                  "{\"type\":\"hello\",\"protocol\":1,\"agent-version\":\"t\",\"kernel\":\"k\"}");
}

/* Reads one frame the client sent (waits up to 2 s); returns false when none came. */
static bool peer_read(Peer *p, KcFrame *f, GByteArray **ret_payload) {
        int64_t deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
        for (;;) {
                size_t used;
                int r = kc_frame_decode(p->in->data, p->in->len, KC_FRAME_MAX_REQUEST_PAYLOAD, f, &used);
                g_assert_cmpint(r, >=, 0);
                if (r == 1) {
                        GByteArray *payload = g_byte_array_new();
                        g_byte_array_append(payload, f->payload, f->length);
                        g_byte_array_remove_range(p->in, 0, (guint) used);
                        *ret_payload = payload;
                        return true;
                }
                struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
                int left = (int) ((deadline - g_get_monotonic_time()) / 1000);
                if (left <= 0 || poll(&pfd, 1, left) <= 0)
                        return false;
                uint8_t buf[65536];
                ssize_t n = read(p->fd, buf, sizeof buf);
                if (n <= 0)
                        return false;
                g_byte_array_append(p->in, buf, (guint) n);
        }
}

static void on_closed(KcAgentClient *c, int error, void *userdata) {
        Seen *s = userdata;
        s->closed_error = error;
        s->closed_calls++;
}

static void on_data(KcAgentClient *c, uint32_t stream, const uint8_t *buf, size_t len, void *userdata) {
        Seen *s = userdata;
        if (len == 0)
                s->data_eof++;
        g_byte_array_append(s->data, buf, (guint) len);
}

static void on_writable(KcAgentClient *c, uint32_t stream, void *userdata) {
        Seen *s = userdata;
        s->writable++;
}

static void on_event(KcAgentClient *c, const char *type, JsonObject *ev, void *userdata) {
        Seen *s = userdata;
        s->events++;
}

static const KcAgentClientOps ops = {
        .closed = on_closed,
        .data = on_data,
        .writable = on_writable,
        .event = on_event,
};

static KcAgentClient *setup(Peer *p, Seen *s) {
        int sv[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
        p->fd = sv[1];
        p->in = g_byte_array_new();
        memset(s, 0, sizeof *s);
        s->data = g_byte_array_new();
        return kc_agent_client_new(sv[0], &ops, s);
}

static void teardown(Peer *p, Seen *s, KcAgentClient *c) {
        kc_agent_client_free(c);
        close(p->fd);
        g_byte_array_unref(p->in);
        g_byte_array_unref(s->data);
}

/* Processes whatever is readable now. */
static void pump(KcAgentClient *c) {
        for (int i = 0; i < 5 && kc_agent_client_iterate(c, 20) == 0;)
                i++;
}

static void test_sync_call(void) {
        Peer p;
        Seen s;
        KcAgentClient *c = setup(&p, &s);
        g_autoptr(JsonObject) ping = kc_request_new("ping");
        g_autoptr(JsonObject) reply = NULL;
        g_autoptr(GByteArray) payload = NULL;
        KcFrame f;

        /* Nothing goes out before hello. */
        g_assert_cmpint(kc_agent_client_wait_hello(c, 50), ==, -ETIMEDOUT);
        send_hello(&p);
        g_assert_cmpint(kc_agent_client_wait_hello(c, 2000), ==, 0);
        g_assert_cmpstr(kc_agent_client_get_kernel(c), ==, "k");
        g_assert_cmpint(s.events, ==, 1);

        /* Answer the request the client is about to send, before it even asks. */
        send_json(&p, KC_FRAME_REPLY, 1, "{\"ok\":false,\"errno\":2,\"message\":\"gone\"}");
        g_assert_cmpint(kc_agent_client_call(c, ping, 2000, &reply), ==, -ENOENT);
        g_assert_nonnull(reply);
        g_assert_true(peer_read(&p, &f, &payload));
        g_assert_cmpint(f.kind, ==, KC_FRAME_REQUEST);
        g_assert_cmpuint(f.id, ==, 1);
        g_assert_nonnull(g_strstr_len((char *) payload->data, payload->len, "\"ping\""));
        teardown(&p, &s, c);
}

static void test_requests_wait_for_hello(void) {
        Peer p;
        Seen s;
        KcAgentClient *c = setup(&p, &s);
        g_autoptr(JsonObject) ping = kc_request_new("ping");
        g_autoptr(GByteArray) payload = NULL;
        KcFrame f;

        g_assert_cmpint(kc_agent_client_call(c, ping, 50, NULL), ==, -ETIMEDOUT);
        g_assert_false(peer_read(&p, &f, &payload));
        send_hello(&p);
        g_assert_cmpint(kc_agent_client_wait_hello(c, 2000), ==, 0);
        g_assert_cmpint(kc_agent_client_flush(c, 2000), ==, 0);
        g_assert_true(peer_read(&p, &f, &payload));
        /* The late reply of the timed-out call is dropped without harm. */
        send_json(&p, KC_FRAME_REPLY, f.id, "{\"ok\":true}");
        pump(c);
        g_assert_cmpint(kc_agent_client_get_error(c), ==, 0);
        teardown(&p, &s, c);
}

static void reply_cb(KcAgentClient *c, int result, JsonObject *reply, void *userdata) {
        Seen *s = userdata;
        const char *v = NULL;
        if (reply)
                (void) kc_json_get_string(reply, "v", 8, false, &v);
        s->order[s->replies++] = v ? (uint32_t) atoi(v) : 0;
        s->last_result = result;
}

static void test_out_of_order_async(void) {
        Peer p;
        Seen s;
        KcAgentClient *c = setup(&p, &s);
        g_autoptr(JsonObject) req = kc_request_new("wait");
        g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, false);
        int64_t id1, id2;

        kc_agent_client_attach(c, NULL);
        id1 = kc_agent_client_request(c, req, reply_cb, &s);
        id2 = kc_agent_client_request(c, req, reply_cb, &s);
        g_assert_cmpint(id1, >=, 1);
        g_assert_cmpint(id2, >, id1);
        send_hello(&p);
        /* Replies in reverse order. */
        {
                g_autofree char *r2 = g_strdup_printf("{\"ok\":true,\"v\":\"2\"}");
                g_autofree char *r1 = g_strdup_printf("{\"ok\":true,\"v\":\"1\"}");
                send_json(&p, KC_FRAME_REPLY, (uint32_t) id2, r2);
                send_json(&p, KC_FRAME_REPLY, (uint32_t) id1, r1);
        }
        for (int i = 0; i < 200 && s.replies < 2; i++)
                g_main_context_iteration(NULL, false), g_usleep(1000);
        g_assert_cmpint(s.replies, ==, 2);
        g_assert_cmpuint(s.order[0], ==, 2);
        g_assert_cmpuint(s.order[1], ==, 1);
        g_assert_cmpint(kc_agent_client_get_error(c), ==, 0);
        teardown(&p, &s, c);
}

static void expect_fatal(const void *bytes, size_t len, bool hello_first, int expected) {
        Peer p;
        Seen s;
        KcAgentClient *c = setup(&p, &s);
        g_autoptr(JsonObject) req = kc_request_new("ping");

        if (hello_first) {
                send_hello(&p);
                g_assert_cmpint(kc_agent_client_wait_hello(c, 2000), ==, 0);
        }
        g_assert_cmpint(kc_agent_client_request(c, req, reply_cb, &s), >=, 1);
        send_raw(&p, bytes, len);
        pump(c);
        g_assert_cmpint(kc_agent_client_get_error(c), ==, expected);
        g_assert_cmpint(s.closed_calls, ==, 1);
        g_assert_cmpint(s.closed_error, ==, expected);
        /* The outstanding request failed with the same error, exactly once. */
        g_assert_cmpint(s.replies, ==, 1);
        g_assert_cmpint(s.last_result, ==, expected);
        g_assert_cmpint(kc_agent_client_request(c, req, reply_cb, &s), ==, expected);
        teardown(&p, &s, c);
}

static GByteArray *frame(KcFrameKind kind, uint32_t id, const char *payload) {
        GByteArray *b = g_byte_array_new();
        g_assert_cmpint(kc_frame_append(b, kind, id, payload, payload ? strlen(payload) : 0), ==, 0);
        return b;
}

static void test_hostile(void) {
        g_autoptr(GByteArray) before_hello = frame(KC_FRAME_REPLY, 1, "{\"ok\":true}");
        g_autoptr(GByteArray) bad_json = frame(KC_FRAME_REPLY, 1, "{\"ok\":tru");
        g_autoptr(GByteArray) wrong_type = frame(KC_FRAME_REPLY, 1, "{\"ok\":1}");
        g_autoptr(GByteArray) request = frame(KC_FRAME_REQUEST, 1, "{\"type\":\"ping\"}");
        g_autoptr(GByteArray) hello2 =
                frame(KC_FRAME_EVENT, 0,
                      "{\"type\":\"hello\",\"protocol\":1,\"agent-version\":\"t\",\"kernel\":\"k\"}");
        g_autoptr(GByteArray) v2 =
                frame(KC_FRAME_EVENT, 0,
                      "{\"type\":\"hello\",\"protocol\":2,\"agent-version\":\"t\",\"kernel\":\"k\"}");
        g_autoptr(GByteArray) no_type = frame(KC_FRAME_EVENT, 0, "{\"kind\":\"exit\"}");
        g_autoptr(GByteArray) unknown_id = frame(KC_FRAME_REPLY, 999, "{\"ok\":true}");
        const uint8_t oversized[] = {0x4B, 0x43, 1, KC_FRAME_DATA, 0, 0, 0, 1, 0, 1, 0, 1};
        const uint8_t garbage[] = "\x00\x01garbage";

        expect_fatal(before_hello->data, before_hello->len, false, -EPROTO);
        expect_fatal(v2->data, v2->len, false, -EPROTONOSUPPORT);
        expect_fatal(bad_json->data, bad_json->len, true, -EBADMSG);
        expect_fatal(wrong_type->data, wrong_type->len, true, -EBADMSG);
        expect_fatal(request->data, request->len, true, -EPROTO);
        expect_fatal(hello2->data, hello2->len, true, -EPROTO);
        expect_fatal(no_type->data, no_type->len, true, -EBADMSG);
        expect_fatal(unknown_id->data, unknown_id->len, true, -EPROTO);
        expect_fatal(oversized, sizeof oversized, true, -EMSGSIZE);
        expect_fatal(garbage, sizeof garbage - 1, true, -EPROTO);
}

/* A duplicate reply in the same read as the real one must not touch the finished call. */
static void test_duplicate_reply(void) {
        Peer p;
        Seen s;
        KcAgentClient *c = setup(&p, &s);
        g_autoptr(JsonObject) ping = kc_request_new("ping");

        send_hello(&p);
        g_assert_cmpint(kc_agent_client_wait_hello(c, 2000), ==, 0);
        send_json(&p, KC_FRAME_REPLY, 1, "{\"ok\":true}");
        send_json(&p, KC_FRAME_REPLY, 1, "{\"ok\":true}");
        g_assert_cmpint(kc_agent_client_call(c, ping, 2000, NULL), ==, 0);
        pump(c);
        g_assert_cmpint(kc_agent_client_get_error(c), ==, -EPROTO);
        teardown(&p, &s, c);
}

static void test_eof(void) {
        Peer p;
        Seen s;
        KcAgentClient *c = setup(&p, &s);
        g_autoptr(JsonObject) req = kc_request_new("ping");

        send_hello(&p);
        g_assert_cmpint(kc_agent_client_wait_hello(c, 2000), ==, 0);
        /* Half a frame, then the guest goes away. */
        send_raw(&p, "KC\x01\x02", 4);
        shutdown(p.fd, SHUT_WR);
        g_assert_cmpint(kc_agent_client_call(c, req, 2000, NULL), ==, -ECONNRESET);
        g_assert_cmpint(s.closed_calls, ==, 1);
        teardown(&p, &s, c);
}

/* The guest's end is gone: writing must fail the client, not raise SIGPIPE in the host process. */
static void test_no_sigpipe(void) {
        Peer p;
        Seen s;
        KcAgentClient *c = setup(&p, &s);
        g_autoptr(JsonObject) ping = kc_request_new("ping");
        g_autofree char *chunk = g_malloc0(KC_FRAME_MAX_PAYLOAD);
        uint32_t in;
        int r = 0;

        send_hello(&p);
        g_assert_cmpint(kc_agent_client_wait_hello(c, 2000), ==, 0);
        in = kc_agent_client_stream_alloc(c, true);
        shutdown(p.fd, SHUT_RD);
        close(p.fd);
        p.fd = -1;
        /* SIGPIPE keeps its default action (terminate) here: surviving is the test. */
        for (int i = 0; i < 8 && r >= 0; i++)
                r = (int) kc_agent_client_write(c, in, chunk, KC_FRAME_MAX_PAYLOAD);
        if (r >= 0)
                r = kc_agent_client_call(c, ping, 2000, NULL);
        g_assert_cmpint(r, <, 0);
        g_assert_cmpint(s.closed_calls, ==, 1);
        p.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        teardown(&p, &s, c);
}

static void test_stream_windows(void) {
        Peer p;
        Seen s;
        KcAgentClient *c = setup(&p, &s);
        uint32_t out, in;
        g_autofree char *chunk = g_malloc0(KC_FRAME_MAX_PAYLOAD);
        g_autoptr(GByteArray) payload = NULL;
        size_t total = 0;
        KcFrame f;

        send_hello(&p);
        g_assert_cmpint(kc_agent_client_wait_hello(c, 2000), ==, 0);
        out = kc_agent_client_stream_alloc(c, false);
        in = kc_agent_client_stream_alloc(c, true);
        g_assert_cmpuint(out, !=, in);
        g_assert_cmpint(kc_agent_client_stream_open(c, out, false), ==, -EEXIST);
        g_assert_cmpint(kc_agent_client_stream_open(c, 0, false), ==, -EINVAL);

        /* Data for a stream nobody opened is dropped, not fatal. */
        send_frame(&p, KC_FRAME_DATA, 4242, "zz", 2);
        /* A full window, consumed: the client returns credit with a window frame. */
        for (int i = 0; i < 4; i++) {
                send_frame(&p, KC_FRAME_DATA, out, chunk, KC_FRAME_MAX_PAYLOAD);
                pump(c);
        }
        g_assert_cmpuint(s.data->len, ==, KC_WINDOW_INITIAL);
        g_assert_cmpint(kc_agent_client_consumed(c, out, KC_WINDOW_INITIAL + 1), ==, -EINVAL);
        g_assert_cmpint(kc_agent_client_consumed(c, out, KC_WINDOW_INITIAL), ==, 0);
        g_assert_cmpint(kc_agent_client_flush(c, 2000), ==, 0);
        g_assert_true(peer_read(&p, &f, &payload));
        g_assert_cmpint(f.kind, ==, KC_FRAME_WINDOW);
        g_assert_cmpuint(f.id, ==, out);
        g_assert_cmpuint(f.window, ==, KC_WINDOW_INITIAL);
        g_clear_pointer(&payload, g_byte_array_unref);

        /* Writes stop at the credit, and resume with a window frame. */
        for (;;) {
                ssize_t n = kc_agent_client_write(c, in, chunk, KC_FRAME_MAX_PAYLOAD);
                g_assert_cmpint(n, >=, 0);
                if (n == 0)
                        break;
                total += (size_t) n;
        }
        g_assert_cmpuint(total, ==, KC_WINDOW_INITIAL);
        {
                uint8_t inc[4] = {0, 0, 0x10, 0};
                send_frame(&p, KC_FRAME_WINDOW, in, (const char *) inc, 4);
        }
        /* Drain what the client wrote so its queue can move. */
        for (int i = 0; i < 4; i++) {
                (void) kc_agent_client_flush(c, 100);
                g_assert_true(peer_read(&p, &f, &payload));
                g_assert_cmpint(f.kind, ==, KC_FRAME_DATA);
                g_clear_pointer(&payload, g_byte_array_unref);
        }
        pump(c);
        g_assert_cmpint(s.writable, ==, 1);
        g_assert_cmpint(kc_agent_client_write(c, in, chunk, KC_FRAME_MAX_PAYLOAD), ==, 4096);
        g_assert_cmpint(kc_agent_client_write(c, in, NULL, 0), ==, 0); /* end of stdin */
        g_assert_cmpint(kc_agent_client_write(c, in, chunk, 1), ==, -EBADF);

        /* End of an output stream. */
        send_frame(&p, KC_FRAME_DATA, out, NULL, 0);
        pump(c);
        g_assert_cmpint(s.data_eof, ==, 1);
        g_assert_cmpint(kc_agent_client_get_error(c), ==, 0);
        teardown(&p, &s, c);
}

static void test_window_overrun(void) {
        Peer p;
        Seen s;
        KcAgentClient *c = setup(&p, &s);
        g_autofree char *chunk = g_malloc0(KC_FRAME_MAX_PAYLOAD);
        uint32_t out;

        send_hello(&p);
        g_assert_cmpint(kc_agent_client_wait_hello(c, 2000), ==, 0);
        out = kc_agent_client_stream_alloc(c, false);
        /* A guest that ignores the window is cut off. */
        for (int i = 0; i < 5; i++) {
                send_frame(&p, KC_FRAME_DATA, out, chunk, KC_FRAME_MAX_PAYLOAD);
                pump(c);
        }
        g_assert_cmpint(kc_agent_client_get_error(c), ==, -EPROTO);
        g_assert_cmpuint(s.data->len, ==, KC_WINDOW_INITIAL);
        teardown(&p, &s, c);
}

static void test_feed(void) {
        Seen s = {.data = g_byte_array_new()};
        KcAgentClient *c = kc_agent_client_new(-1, &ops, &s);
        g_autoptr(GByteArray) hello =
                frame(KC_FRAME_EVENT, 0,
                      "{\"type\":\"hello\",\"protocol\":1,\"agent-version\":\"t\",\"kernel\":\"k\"}");

        /* One byte at a time: frames split anywhere still decode. */
        for (guint i = 0; i < hello->len; i++)
                g_assert_cmpint(kc_agent_client_feed(c, hello->data + i, 1), ==, 0);
        g_assert_true(kc_agent_client_has_hello(c));
        kc_agent_client_free(c);
        g_byte_array_unref(s.data);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/client/sync-call", test_sync_call);
        g_test_add_func("/client/requests-wait-for-hello", test_requests_wait_for_hello);
        g_test_add_func("/client/out-of-order-async", test_out_of_order_async);
        g_test_add_func("/client/hostile", test_hostile);
        g_test_add_func("/client/duplicate-reply", test_duplicate_reply);
        g_test_add_func("/client/eof", test_eof);
        g_test_add_func("/client/no-sigpipe", test_no_sigpipe);
        g_test_add_func("/client/stream-windows", test_stream_windows);
        g_test_add_func("/client/window-overrun", test_window_overrun);
        g_test_add_func("/client/feed", test_feed);
        return g_test_run();
}
