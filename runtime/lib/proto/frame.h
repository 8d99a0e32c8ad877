/* Host <-> agent framing: the 12-byte header, limits, and a pure incremental decoder. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_FRAME_MAGIC 0x4B43u
#define KC_FRAME_VERSION 1u
#define KC_FRAME_HEADER_SIZE 12u
/* Payload limit of every guest -> host frame and every frame but requests. */
#define KC_FRAME_MAX_PAYLOAD 65536u
/* Requests (host -> guest) may carry a large OCI spec. */
#define KC_FRAME_MAX_REQUEST_PAYLOAD (1024u * 1024u)
#define KC_STREAM_ID_MAX 0x7FFFFFFFu
#define KC_WINDOW_INITIAL (256u * 1024u)
#define KC_PROTOCOL_VERSION 1

typedef enum KcFrameKind {
        KC_FRAME_REQUEST = 1,
        KC_FRAME_REPLY = 2,
        KC_FRAME_EVENT = 3,
        KC_FRAME_DATA = 4,
        KC_FRAME_WINDOW = 5,
} KcFrameKind;

typedef struct KcFrame {
        KcFrameKind kind;
        uint32_t id;
        uint32_t length;
        const uint8_t *payload; /* points into the decoder's input; valid until it is consumed */
        uint32_t window;        /* KC_FRAME_WINDOW: the decoded increment */
} KcFrame;

const char *kc_frame_kind_to_string(KcFrameKind kind);

/* Appends one frame (header + payload) to out. Returns 0 or -EINVAL/-EMSGSIZE when the frame
 * would break the limits of docs/protocol.md for that kind. */
int kc_frame_append(GByteArray *out, KcFrameKind kind, uint32_t id, const void *payload, size_t length);
int kc_frame_append_window(GByteArray *out, uint32_t stream, uint32_t increment);

/* Decodes at most one frame from buf[0..len). max_request is the payload limit applied to
 * request frames (the agent passes KC_FRAME_MAX_REQUEST_PAYLOAD; the host, which must never
 * receive requests, passes 0 so that any request frame is rejected). Returns:
 *   1 with ret and ret_consumed set: a whole, valid frame;
 *   0: more bytes are needed (nothing consumed);
 *   -EPROTO: bad magic/version, unknown kind, id out of range for the kind;
 *   -EMSGSIZE: declared length over the limit (checked before the payload arrives);
 *   -EBADMSG: malformed window frame. */
int kc_frame_decode(const uint8_t *buf, size_t len, uint32_t max_request, KcFrame *ret,
                    size_t *ret_consumed);
