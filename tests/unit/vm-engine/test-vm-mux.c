/* Unit tests of the mux: hello replay, request and stream id mapping, routing, broadcast, isolation of bad
 * clients. */
#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd-util.h"
#include "frame.h"
#include "message.h"
#include "vm-mux.h"

typedef struct Peer {
        int fd;
        GByteArray *in;
} Peer;

typedef struct Got {
        KcFrameKind kind;
        uint32_t id;
        GBytes *payload;
        uint32_t window;
} Got;

static void got_clear(Got *g) {
        g_clear_pointer(&g->payload, g_bytes_unref);
}

static Peer peer_new(int fd) {
        (void) fd_set_nonblock(fd, true);
        return (Peer){fd, g_byte_array_new()};
}

static void peer_free(Peer *p) {
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -1;
        g_byte_array_unref(p->in);
}

static void send_frame(Peer *p, KcFrameKind kind, uint32_t id, JsonObject *obj, const void *raw,
                       size_t len) {
        g_autoptr(GByteArray) out = g_byte_array_new();

        if (obj)
                g_assert_cmpint(kc_json_append_frame(out, kind, id, obj), ==, 0);
        else if (kind == KC_FRAME_WINDOW)
                g_assert_cmpint(kc_frame_append_window(out, id, (uint32_t) len), ==, 0);
        else
                g_assert_cmpint(kc_frame_append(out, kind, id, raw, len), ==, 0);
        g_assert_cmpint(write_all(p->fd, out->data, out->len), ==, 0);
}

/* Runs the main loop until p has a whole frame (or 2 s pass). Returns false on timeout/EOF. */
static bool recv_frame(Peer *p, Got *ret) {
        gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;

        for (;;) {
                KcFrame f;
                size_t used;
                int r = kc_frame_decode(p->in->data, p->in->len, KC_FRAME_MAX_REQUEST_PAYLOAD, &f, &used);
                g_assert_cmpint(r, >=, 0);
                if (r == 1) {
                        *ret = (Got){f.kind, f.id, g_bytes_new(f.payload, f.length), f.window};
                        g_byte_array_remove_range(p->in, 0, (guint) used);
                        return true;
                }
                uint8_t buf[65536];
                ssize_t n = read(p->fd, buf, sizeof(buf));
                if (n > 0) {
                        g_byte_array_append(p->in, buf, (guint) n);
                        continue;
                }
                if (n == 0)
                        return false;
                if (g_get_monotonic_time() > deadline)
                        return false;
                g_main_context_iteration(NULL, false);
                g_usleep(1000);
        }
}

/* Lets the mux run a little and checks that nothing arrived at p. */
static bool quiet(Peer *p) {
        for (int i = 0; i < 50; i++) {
                g_main_context_iteration(NULL, false);
                g_usleep(1000);
        }
        uint8_t b;
        ssize_t n = read(p->fd, &b, 1);
        if (n == 1)
                g_byte_array_append(p->in, &b, 1);
        return n < 0 && errno == EAGAIN && p->in->len == 0;
}

static JsonObject *payload_json(const Got *g) {
        JsonObject *o = NULL;
        gsize len;
        const void *d = g_bytes_get_data(g->payload, &len);
        g_assert_cmpint(kc_json_parse_object(d, len, &o), ==, 0);
        return o;
}

static void send_hello(Peer *agent) {
        g_autoptr(JsonObject) hello = kc_event_new("hello");
        json_object_set_int_member(hello, "protocol", 1);
        json_object_set_string_member(hello, "agent-version", "test");
        json_object_set_string_member(hello, "kernel", "6.1.0-test");
        send_frame(agent, KC_FRAME_EVENT, 0, hello, NULL, 0);
}

static void expect_hello(Peer *c) {
        Got g = {};
        g_assert_true(recv_frame(c, &g));
        g_assert_cmpint(g.kind, ==, KC_FRAME_EVENT);
        g_autoptr(JsonObject) o = payload_json(&g);
        g_assert_cmpstr(json_object_get_string_member(o, "type"), ==, "hello");
        got_clear(&g);
}

typedef struct Fixture {
        KcMux *mux;
        Peer agent;
        int closed;
} Fixture;

static void on_closed(int error, void *userdata) {
        Fixture *f = userdata;
        f->closed++;
}

static void setup(Fixture *f) {
        int p[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), ==, 0);
        g_assert_cmpint(kc_mux_new(p[0], on_closed, f, &f->mux), ==, 0);
        f->agent = peer_new(p[1]);
}

static Peer add_client(Fixture *f, bool privileged) {
        int p[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), ==, 0);
        g_assert_cmpint(kc_mux_add_client(f->mux, p[0], privileged), ==, 0);
        return peer_new(p[1]);
}

static void teardown(Fixture *f) {
        kc_mux_free(f->mux);
        peer_free(&f->agent);
}

static void test_hello_replay(void) {
        Fixture f = {};
        setup(&f);
        Peer early = add_client(&f, false);
        g_assert_true(quiet(&early)); /* nothing before the agent's hello */
        send_hello(&f.agent);
        expect_hello(&early);
        Peer late = add_client(&f, false);
        expect_hello(&late);
        g_assert_true(kc_mux_has_hello(f.mux));
        peer_free(&early);
        peer_free(&late);
        teardown(&f);
}

static void test_request_ids_and_streams(void) {
        Fixture f = {};
        Got g = {}, ga = {}, gb = {};
        setup(&f);
        send_hello(&f.agent);
        Peer a = add_client(&f, false), b = add_client(&f, false);
        expect_hello(&a);
        expect_hello(&b);

        /* Both clients use request id 7 and stdout stream 1. */
        for (int i = 0; i < 2; i++) {
                g_autoptr(JsonObject) req = kc_request_new("create-container");
                json_object_set_string_member(req, "container-id", i == 0 ? "ca" : "cb");
                json_object_set_int_member(req, "stdout", 1);
                json_object_set_int_member(req, "stderr", 2);
                send_frame(i == 0 ? &a : &b, KC_FRAME_REQUEST, 7, req, NULL, 0);
        }
        g_assert_true(recv_frame(&f.agent, &ga));
        g_assert_true(recv_frame(&f.agent, &gb));
        g_assert_cmpint(ga.kind, ==, KC_FRAME_REQUEST);
        g_assert_cmpuint(ga.id, !=, gb.id);
        g_autoptr(JsonObject) ra = payload_json(&ga);
        g_autoptr(JsonObject) rb = payload_json(&gb);
        int64_t out_a = json_object_get_int_member(ra, "stdout"),
                out_b = json_object_get_int_member(rb, "stdout");
        g_assert_cmpint(out_a, !=, out_b);
        g_assert_cmpint(json_object_get_int_member(ra, "stderr"), !=,
                        json_object_get_int_member(rb, "stderr"));
        bool a_first = strcmp(json_object_get_string_member(ra, "container-id"), "ca") == 0;
        uint32_t id_for_b = a_first ? gb.id : ga.id;
        int64_t stream_for_a = a_first ? out_a : out_b;

        /* The reply to b's request goes to b, with b's id. */
        g_autoptr(JsonObject) ok = kc_reply_new_ok();
        json_object_set_int_member(ok, "pid", 42);
        send_frame(&f.agent, KC_FRAME_REPLY, id_for_b, ok, NULL, 0);
        g_assert_true(recv_frame(&b, &g));
        g_assert_cmpint(g.kind, ==, KC_FRAME_REPLY);
        g_assert_cmpuint(g.id, ==, 7);
        got_clear(&g);
        g_assert_true(quiet(&a));

        /* Data on a's global stream arrives at a as its stream 1; credit flows back rewritten. */
        send_frame(&f.agent, KC_FRAME_DATA, (uint32_t) stream_for_a, NULL, "hi", 2);
        g_assert_true(recv_frame(&a, &g));
        g_assert_cmpint(g.kind, ==, KC_FRAME_DATA);
        g_assert_cmpuint(g.id, ==, 1);
        g_assert_cmpmem(g_bytes_get_data(g.payload, NULL), 2, "hi", 2);
        got_clear(&g);
        g_assert_true(quiet(&b));
        send_frame(&a, KC_FRAME_WINDOW, 1, NULL, NULL, 2);
        g_assert_true(recv_frame(&f.agent, &g));
        g_assert_cmpint(g.kind, ==, KC_FRAME_WINDOW);
        g_assert_cmpuint(g.id, ==, (uint32_t) stream_for_a);
        g_assert_cmpuint(g.window, ==, 2);
        got_clear(&g);

        /* Events reach everybody. */
        g_autoptr(JsonObject) ev = kc_event_new("oom");
        json_object_set_string_member(ev, "container-id", "ca");
        send_frame(&f.agent, KC_FRAME_EVENT, 0, ev, NULL, 0);
        g_assert_true(recv_frame(&a, &g));
        g_assert_cmpint(g.kind, ==, KC_FRAME_EVENT);
        got_clear(&g);
        g_assert_true(recv_frame(&b, &g));
        g_assert_cmpint(g.kind, ==, KC_FRAME_EVENT);
        got_clear(&g);

        /* a goes away: output of its stream is discarded and credited by the mux. */
        peer_free(&a);
        for (int i = 0; i < 20; i++)
                g_main_context_iteration(NULL, false);
        send_frame(&f.agent, KC_FRAME_DATA, (uint32_t) stream_for_a, NULL, "lost", 4);
        g_assert_true(recv_frame(&f.agent, &g));
        g_assert_cmpint(g.kind, ==, KC_FRAME_WINDOW);
        g_assert_cmpuint(g.window, ==, 4);
        got_clear(&g);
        g_assert_cmpuint(kc_mux_n_clients(f.mux), ==, 1);

        got_clear(&ga);
        got_clear(&gb);
        peer_free(&b);
        teardown(&f);
}

static void test_destroy_reserved(void) {
        Fixture f = {};
        Got g = {};
        setup(&f);
        send_hello(&f.agent);
        Peer c = add_client(&f, false), mon = add_client(&f, true);
        expect_hello(&c);
        expect_hello(&mon);
        g_autoptr(JsonObject) req = kc_request_new("destroy-sandbox");
        send_frame(&c, KC_FRAME_REQUEST, 3, req, NULL, 0);
        g_assert_true(recv_frame(&c, &g));
        g_assert_cmpint(g.kind, ==, KC_FRAME_REPLY);
        g_assert_cmpuint(g.id, ==, 3);
        g_autoptr(JsonObject) reply = payload_json(&g);
        g_assert_cmpint(kc_reply_parse(reply, NULL), ==, -EPERM);
        got_clear(&g);
        g_assert_true(quiet(&f.agent));
        send_frame(&mon, KC_FRAME_REQUEST, 3, req, NULL, 0);
        g_assert_true(recv_frame(&f.agent, &g));
        g_assert_cmpint(g.kind, ==, KC_FRAME_REQUEST);
        got_clear(&g);
        peer_free(&c);
        peer_free(&mon);
        teardown(&f);
}

static void test_bad_client_dropped(void) {
        Fixture f = {};
        Got g = {};
        setup(&f);
        send_hello(&f.agent);
        Peer bad = add_client(&f, false), good = add_client(&f, false);
        expect_hello(&bad);
        expect_hello(&good);
        /* A reply frame from a client is a protocol error. */
        g_autoptr(JsonObject) ok = kc_reply_new_ok();
        send_frame(&bad, KC_FRAME_REPLY, 1, ok, NULL, 0);
        g_assert_false(recv_frame(&bad, &g)); /* EOF: dropped */
        g_assert_cmpuint(kc_mux_n_clients(f.mux), ==, 1);
        /* Garbage bytes too. */
        Peer junk = add_client(&f, false);
        expect_hello(&junk);
        g_assert_cmpint(write_all(junk.fd, "GARBAGE-GARBAGE!", 16), ==, 0);
        g_assert_false(recv_frame(&junk, &g));
        /* The good client still works. */
        g_autoptr(JsonObject) ping = kc_request_new("ping");
        send_frame(&good, KC_FRAME_REQUEST, 9, ping, NULL, 0);
        g_assert_true(recv_frame(&f.agent, &g));
        uint32_t id = g.id;
        got_clear(&g);
        send_frame(&f.agent, KC_FRAME_REPLY, id, ok, NULL, 0);
        g_assert_true(recv_frame(&good, &g));
        g_assert_cmpuint(g.id, ==, 9);
        got_clear(&g);
        /* A malformed request gets an EINVAL reply, not a disconnect. */
        send_frame(&good, KC_FRAME_REQUEST, 10, NULL, "[1]", 3);
        g_assert_true(recv_frame(&good, &g));
        g_autoptr(JsonObject) err = payload_json(&g);
        g_assert_cmpint(kc_reply_parse(err, NULL), ==, -EINVAL);
        got_clear(&g);
        peer_free(&bad);
        peer_free(&junk);
        peer_free(&good);
        teardown(&f);
}

static void test_agent_garbage_closes(void) {
        Fixture f = {};
        Got g = {};
        setup(&f);
        Peer c = add_client(&f, false);
        /* Anything but hello first is fatal for the channel; clients are disconnected. */
        g_autoptr(JsonObject) ok = kc_reply_new_ok();
        send_frame(&f.agent, KC_FRAME_REPLY, 1, ok, NULL, 0);
        g_assert_false(recv_frame(&c, &g));
        g_assert_cmpint(f.closed, ==, 1);
        peer_free(&c);
        teardown(&f);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/vm-mux/hello-replay", test_hello_replay);
        g_test_add_func("/vm-mux/request-ids-and-streams", test_request_ids_and_streams);
        g_test_add_func("/vm-mux/destroy-reserved", test_destroy_reserved);
        g_test_add_func("/vm-mux/bad-client-dropped", test_bad_client_dropped);
        g_test_add_func("/vm-mux/agent-garbage-closes", test_agent_garbage_closes);
        return g_test_run();
}
