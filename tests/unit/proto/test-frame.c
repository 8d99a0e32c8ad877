/* Unit tests for the frame codec: round trips, limits, truncation, garbage, ids per kind. */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "frame.h"

static GByteArray *header(uint16_t magic, uint8_t version, uint8_t kind, uint32_t id, uint32_t length) {
        GByteArray *b = g_byte_array_new();
        uint8_t h[12] = {
                magic >> 8,           magic & 0xff,     version,   kind,         id >> 24,
                (id >> 16) & 0xff,    (id >> 8) & 0xff, id & 0xff, length >> 24, (length >> 16) & 0xff,
                (length >> 8) & 0xff, length & 0xff,
        };
        g_byte_array_append(b, h, sizeof h);
        return b;
}

static void test_round_trip(void) {
        g_autoptr(GByteArray) b = g_byte_array_new();
        KcFrame f;
        size_t used = 0;

        g_assert_cmpint(kc_frame_append(b, KC_FRAME_REPLY, 7, "{}", 2), ==, 0);
        g_assert_cmpint(kc_frame_append(b, KC_FRAME_DATA, 3, "abc", 3), ==, 0);
        g_assert_cmpint(kc_frame_append(b, KC_FRAME_DATA, 3, NULL, 0), ==, 0);
        g_assert_cmpint(kc_frame_append_window(b, 3, 4096), ==, 0);
        g_assert_cmpuint(b->len, ==, 4 * 12 + 2 + 3 + 4);
        /* Header bytes are big-endian and fixed. */
        g_assert_cmpuint(b->data[0], ==, 0x4B);
        g_assert_cmpuint(b->data[1], ==, 0x43);
        g_assert_cmpuint(b->data[2], ==, 1);
        g_assert_cmpuint(b->data[3], ==, KC_FRAME_REPLY);
        g_assert_cmpuint(b->data[7], ==, 7);
        g_assert_cmpuint(b->data[11], ==, 2);

        size_t off = 0;
        g_assert_cmpint(kc_frame_decode(b->data, b->len, 0, &f, &used), ==, 1);
        g_assert_cmpint(f.kind, ==, KC_FRAME_REPLY);
        g_assert_cmpuint(f.id, ==, 7);
        g_assert_cmpuint(f.length, ==, 2);
        g_assert_cmpmem(f.payload, 2, "{}", 2);
        off += used;
        g_assert_cmpint(kc_frame_decode(b->data + off, b->len - off, 0, &f, &used), ==, 1);
        g_assert_cmpint(f.kind, ==, KC_FRAME_DATA);
        g_assert_cmpmem(f.payload, f.length, "abc", 3);
        off += used;
        g_assert_cmpint(kc_frame_decode(b->data + off, b->len - off, 0, &f, &used), ==, 1);
        g_assert_cmpuint(f.length, ==, 0);
        off += used;
        g_assert_cmpint(kc_frame_decode(b->data + off, b->len - off, 0, &f, &used), ==, 1);
        g_assert_cmpint(f.kind, ==, KC_FRAME_WINDOW);
        g_assert_cmpuint(f.window, ==, 4096);
        off += used;
        g_assert_cmpuint(off, ==, b->len);
}

static void test_truncated(void) {
        g_autoptr(GByteArray) b = g_byte_array_new();
        KcFrame f;
        size_t used = 12345;

        g_assert_cmpint(kc_frame_append(b, KC_FRAME_EVENT, 0, "{\"type\":\"x\"}", 12), ==, 0);
        /* Every strict prefix asks for more and consumes nothing. */
        for (size_t n = 0; n < b->len; n++) {
                g_assert_cmpint(kc_frame_decode(b->data, n, 0, &f, &used), ==, 0);
                g_assert_cmpuint(used, ==, 12345);
        }
        g_assert_cmpint(kc_frame_decode(b->data, b->len, 0, &f, &used), ==, 1);
        g_assert_cmpuint(used, ==, b->len);
}

static void test_garbage(void) {
        KcFrame f;
        size_t used;
        const uint8_t junk[] = "GET / HTTP/1.1\r\n\r\n";

        g_assert_cmpint(kc_frame_decode(junk, sizeof junk - 1, 0, &f, &used), ==, -EPROTO);
        /* Rejected from the first wrong byte on, before a header is complete. */
        g_assert_cmpint(kc_frame_decode((const uint8_t *) "X", 1, 0, &f, &used), ==, -EPROTO);
        g_assert_cmpint(kc_frame_decode((const uint8_t *) "KX", 2, 0, &f, &used), ==, -EPROTO);
        {
                g_autoptr(GByteArray) b = header(0x4B43, 2, KC_FRAME_DATA, 1, 0);
                g_assert_cmpint(kc_frame_decode(b->data, 3, 0, &f, &used), ==, -EPROTO);
        }
        for (int kind = 0; kind < 256; kind++) {
                g_autoptr(GByteArray) b = header(0x4B43, 1, (uint8_t) kind, 1, 0);
                int r = kc_frame_decode(b->data, b->len, 0, &f, &used);
                if (kind == KC_FRAME_REPLY || kind == KC_FRAME_DATA)
                        g_assert_cmpint(r, ==, 1);
                else if (kind == KC_FRAME_WINDOW)
                        g_assert_cmpint(r, ==, -EBADMSG); /* needs exactly 4 bytes */
                else
                        g_assert_cmpint(r, ==, -EPROTO); /* unknown, id 1 on an event, request to host */
        }
}

static void test_oversized(void) {
        KcFrame f;
        size_t used;
        g_autoptr(GByteArray) max = header(0x4B43, 1, KC_FRAME_DATA, 1, KC_FRAME_MAX_PAYLOAD);
        g_autoptr(GByteArray) over = header(0x4B43, 1, KC_FRAME_DATA, 1, KC_FRAME_MAX_PAYLOAD + 1);
        g_autoptr(GByteArray) huge = header(0x4B43, 1, KC_FRAME_REPLY, 1, 0xFFFFFFFF);
        g_autoptr(GByteArray) req = header(0x4B43, 1, KC_FRAME_REQUEST, 1, KC_FRAME_MAX_REQUEST_PAYLOAD + 1);
        g_autoptr(GByteArray) enc = g_byte_array_new();
        g_autofree char *big = g_malloc0(KC_FRAME_MAX_REQUEST_PAYLOAD + 1);

        /* The limit is judged from the header alone, before any payload is buffered. */
        g_assert_cmpint(kc_frame_decode(max->data, max->len, 0, &f, &used), ==, 0);
        g_assert_cmpint(kc_frame_decode(over->data, over->len, 0, &f, &used), ==, -EMSGSIZE);
        g_assert_cmpint(kc_frame_decode(huge->data, huge->len, 0, &f, &used), ==, -EMSGSIZE);
        g_assert_cmpint(kc_frame_decode(req->data, req->len, KC_FRAME_MAX_REQUEST_PAYLOAD, &f, &used), ==,
                        -EMSGSIZE);
        /* The encoder refuses what the decoder would refuse. */
        g_assert_cmpint(kc_frame_append(enc, KC_FRAME_DATA, 1, big, KC_FRAME_MAX_PAYLOAD + 1), ==,
                        -EMSGSIZE);
        g_assert_cmpint(kc_frame_append(enc, KC_FRAME_REQUEST, 1, big, KC_FRAME_MAX_REQUEST_PAYLOAD), ==, 0);
        g_assert_cmpint(kc_frame_append(enc, KC_FRAME_REQUEST, 1, big, KC_FRAME_MAX_REQUEST_PAYLOAD + 1), ==,
                        -EMSGSIZE);
        g_assert_cmpint(kc_frame_decode(enc->data, enc->len, KC_FRAME_MAX_REQUEST_PAYLOAD, &f, &used), ==,
                        1);
        g_assert_cmpuint(f.length, ==, KC_FRAME_MAX_REQUEST_PAYLOAD);
}

static void test_ids(void) {
        g_autoptr(GByteArray) b = g_byte_array_new();
        KcFrame f;
        size_t used;

        g_assert_cmpint(kc_frame_append(b, KC_FRAME_REQUEST, 0, "{}", 2), ==, -EINVAL);
        g_assert_cmpint(kc_frame_append(b, KC_FRAME_EVENT, 5, "{}", 2), ==, -EINVAL);
        g_assert_cmpint(kc_frame_append(b, KC_FRAME_DATA, 0, "x", 1), ==, -EINVAL);
        g_assert_cmpint(kc_frame_append(b, KC_FRAME_DATA, 0x80000000u, "x", 1), ==, -EINVAL);
        g_assert_cmpint(kc_frame_append(b, 9, 1, "x", 1), ==, -EINVAL);
        g_assert_cmpint(kc_frame_append_window(b, 1, 0), ==, -EINVAL);
        g_assert_cmpuint(b->len, ==, 0);
        {
                g_autoptr(GByteArray) h = header(0x4B43, 1, KC_FRAME_REPLY, 0, 0);
                g_assert_cmpint(kc_frame_decode(h->data, h->len, 0, &f, &used), ==, -EPROTO);
        }
        {
                g_autoptr(GByteArray) h = header(0x4B43, 1, KC_FRAME_DATA, 0xFFFFFFFFu, 0);
                g_assert_cmpint(kc_frame_decode(h->data, h->len, 0, &f, &used), ==, -EPROTO);
        }
        {
                /* The host never accepts a request; the agent does. */
                g_autoptr(GByteArray) h = header(0x4B43, 1, KC_FRAME_REQUEST, 1, 0);
                g_assert_cmpint(kc_frame_decode(h->data, h->len, 0, &f, &used), ==, -EPROTO);
                g_assert_cmpint(kc_frame_decode(h->data, h->len, KC_FRAME_MAX_REQUEST_PAYLOAD, &f, &used),
                                ==, 1);
        }
        {
                g_autoptr(GByteArray) h = header(0x4B43, 1, KC_FRAME_WINDOW, 1, 4);
                const uint8_t zero[4] = {}, too_big[4] = {0x80, 0, 0, 0};
                g_byte_array_append(h, zero, 4);
                g_assert_cmpint(kc_frame_decode(h->data, h->len, 0, &f, &used), ==, -EBADMSG);
                memcpy(h->data + 12, too_big, 4);
                g_assert_cmpint(kc_frame_decode(h->data, h->len, 0, &f, &used), ==, -EBADMSG);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/frame/round-trip", test_round_trip);
        g_test_add_func("/frame/truncated", test_truncated);
        g_test_add_func("/frame/garbage", test_garbage);
        g_test_add_func("/frame/oversized", test_oversized);
        g_test_add_func("/frame/ids", test_ids);
        return g_test_run();
}
