/* libFuzzer target: guest -> host bytes through the frame decoder, the JSON parser and the client. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "client.h"
#include "log.h"

static void on_data(KcAgentClient *c, uint32_t stream, const uint8_t *buf, size_t len, void *userdata) {
        (void) kc_agent_client_consumed(c, stream, len);
}

static void on_event(KcAgentClient *c, const char *type, JsonObject *ev, void *userdata) {
        KcExitStatus st;
        (void) kc_exit_status_parse(ev, true, &st);
}

static void on_reply(KcAgentClient *c, int result, JsonObject *reply, void *userdata) {
        KcExitStatus st;
        if (reply)
                (void) kc_exit_status_parse(reply, false, &st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char hello[] =
                "{\"type\":\"hello\",\"protocol\":1,\"agent-version\":\"f\",\"kernel\":\"k\"}";
        static bool initialised;
        KcAgentClientOps ops = {.data = on_data, .event = on_event};
        KcAgentClient *c;
        g_autoptr(GByteArray) pre = g_byte_array_new();
        g_autoptr(JsonObject) req = NULL;

        if (!initialised) {
                kc_log_set_level(LOG_EMERG); /* protocol violations are expected here */
                initialised = true;
        }
        /* The raw decoder on its own, from every offset class. */
        {
                size_t off = 0;
                KcFrame f;
                size_t used;
                while (off < size && kc_frame_decode(data + off, size - off, KC_FRAME_MAX_REQUEST_PAYLOAD,
                                                     &f, &used) == 1) {
                        if (f.kind != KC_FRAME_DATA && f.kind != KC_FRAME_WINDOW) {
                                JsonObject *o = NULL;
                                if (kc_json_parse_object(f.payload, f.length, &o) == 0)
                                        json_object_unref(o);
                        }
                        off += used;
                }
        }

        c = kc_agent_client_new(-1, &ops, NULL);
        (void) kc_agent_client_stream_open(c, 1, false);
        (void) kc_agent_client_stream_open(c, 2, false);
        (void) kc_agent_client_stream_open(c, 3, true);
        req = kc_request_new("wait");
        for (int i = 0; i < 3; i++)
                (void) kc_agent_client_request(c, req, on_reply, NULL);
        /* Odd first byte: start after a valid hello, so that deeper states are reachable. */
        if (size > 0 && (data[0] & 1)) {
                (void) kc_frame_append(pre, KC_FRAME_EVENT, 0, hello, strlen(hello));
                (void) kc_agent_client_feed(c, pre->data, pre->len);
                data++;
                size--;
        }
        /* Split the input in two feeds to exercise partial frames. */
        {
                size_t half = size / 2;
                if (kc_agent_client_feed(c, data, half) == 0)
                        (void) kc_agent_client_feed(c, data + half, size - half);
        }
        kc_agent_client_free(c);
        return 0;
}
