/* Host <-> agent framing: header encoding and the bounded, pure frame decoder. */
#include <errno.h>
#include <string.h>

#include "frame.h"

static void put_be16(uint8_t *p, uint16_t v) {
        p[0] = v >> 8;
        p[1] = v & 0xff;
}

static void put_be32(uint8_t *p, uint32_t v) {
        p[0] = v >> 24;
        p[1] = (v >> 16) & 0xff;
        p[2] = (v >> 8) & 0xff;
        p[3] = v & 0xff;
}

static uint16_t get_be16(const uint8_t *p) {
        return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

const char *kc_frame_kind_to_string(KcFrameKind kind) {
        switch (kind) {
        case KC_FRAME_REQUEST:
                return "request";
        case KC_FRAME_REPLY:
                return "reply";
        case KC_FRAME_EVENT:
                return "event";
        case KC_FRAME_DATA:
                return "data";
        case KC_FRAME_WINDOW:
                return "window";
        }
        return "unknown";
}

/* Checks id against the kind's rules; -EPROTO when it breaks them. */
static int check_id(KcFrameKind kind, uint32_t id) {
        switch (kind) {
        case KC_FRAME_REQUEST:
        case KC_FRAME_REPLY:
                return id >= 1 ? 0 : -EPROTO;
        case KC_FRAME_EVENT:
                return id == 0 ? 0 : -EPROTO;
        case KC_FRAME_DATA:
        case KC_FRAME_WINDOW:
                return id >= 1 && id <= KC_STREAM_ID_MAX ? 0 : -EPROTO;
        }
        return -EPROTO;
}

static uint32_t max_payload(KcFrameKind kind, uint32_t max_request) {
        if (kind == KC_FRAME_REQUEST)
                return max_request;
        if (kind == KC_FRAME_WINDOW)
                return 4;
        return KC_FRAME_MAX_PAYLOAD;
}

int kc_frame_append(GByteArray *out, KcFrameKind kind, uint32_t id, const void *payload, size_t length) {
        uint8_t h[KC_FRAME_HEADER_SIZE];

        if (kind < KC_FRAME_REQUEST || kind > KC_FRAME_WINDOW)
                return -EINVAL;
        if (check_id(kind, id) < 0)
                return -EINVAL;
        if (length > max_payload(kind, KC_FRAME_MAX_REQUEST_PAYLOAD))
                return -EMSGSIZE;
        if (length > 0 && !payload)
                return -EINVAL;

        put_be16(h, KC_FRAME_MAGIC);
        h[2] = KC_FRAME_VERSION;
        h[3] = (uint8_t) kind;
        put_be32(h + 4, id);
        put_be32(h + 8, (uint32_t) length);
        g_byte_array_append(out, h, sizeof h);
        if (length > 0)
                g_byte_array_append(out, payload, (guint) length);
        return 0;
}

int kc_frame_append_window(GByteArray *out, uint32_t stream, uint32_t increment) {
        uint8_t p[4];

        if (increment == 0 || increment > KC_STREAM_ID_MAX)
                return -EINVAL;
        put_be32(p, increment);
        return kc_frame_append(out, KC_FRAME_WINDOW, stream, p, sizeof p);
}

int kc_frame_decode(const uint8_t *buf, size_t len, uint32_t max_request, KcFrame *ret,
                    size_t *ret_consumed) {
        KcFrameKind kind;
        uint32_t id, length;
        int r;

        /* Validate the header field by field as soon as its bytes are there, so that garbage is
         * rejected without waiting for a full header. */
        if (len >= 1 && buf[0] != (KC_FRAME_MAGIC >> 8))
                return -EPROTO;
        if (len >= 2 && get_be16(buf) != KC_FRAME_MAGIC)
                return -EPROTO;
        if (len >= 3 && buf[2] != KC_FRAME_VERSION)
                return -EPROTO;
        if (len >= 4 && (buf[3] < KC_FRAME_REQUEST || buf[3] > KC_FRAME_WINDOW))
                return -EPROTO;
        if (len < KC_FRAME_HEADER_SIZE)
                return 0;

        kind = (KcFrameKind) buf[3];
        id = get_be32(buf + 4);
        length = get_be32(buf + 8);
        if (kind == KC_FRAME_REQUEST && max_request == 0)
                return -EPROTO;
        r = check_id(kind, id);
        if (r < 0)
                return r;
        if (kind == KC_FRAME_WINDOW && length != 4)
                return -EBADMSG;
        if (length > max_payload(kind, max_request))
                return -EMSGSIZE;
        if (len - KC_FRAME_HEADER_SIZE < length)
                return 0;

        *ret = (KcFrame){
                .kind = kind,
                .id = id,
                .length = length,
                .payload = buf + KC_FRAME_HEADER_SIZE,
        };
        if (kind == KC_FRAME_WINDOW) {
                ret->window = get_be32(ret->payload);
                if (ret->window == 0 || ret->window > KC_STREAM_ID_MAX)
                        return -EBADMSG;
        }
        *ret_consumed = KC_FRAME_HEADER_SIZE + length;
        return 1;
}
