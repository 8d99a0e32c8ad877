/* Unit tests: the attach socket never blocks on a slow client and pushes back on stdin. */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "attach.h"

typedef struct Fixture {
        char *dir;
        KcAttach *attach;
        GString *stdin_data;
        bool stdin_full;
        int eofs;
} Fixture;

static ssize_t on_input(void *userdata, const char *buf, size_t len) {
        Fixture *f = userdata;
        if (f->stdin_full)
                return -EAGAIN;
        /* take at most 3 bytes per call to exercise partial writes */
        size_t n = MIN(len, 3);
        g_string_append_len(f->stdin_data, buf, (gssize) n);
        return (ssize_t) n;
}

static void on_eof(void *userdata) {
        Fixture *f = userdata;
        f->eofs++;
}

static const KcAttachCallbacks callbacks = {on_input, on_eof};

static void iterate(int ms) {
        gint64 end = g_get_monotonic_time() + ms * 1000;
        while (g_get_monotonic_time() < end)
                g_main_context_iteration(NULL, FALSE);
}

static int connect_client(Fixture *f) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        g_snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/attach", f->dir);
        g_assert_cmpint(connect(s, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);
        iterate(20); /* accept */
        return s;
}

static void setup(Fixture *f, gconstpointer data) {
        f->dir = g_dir_make_tmp("kc-attach-XXXXXX", NULL);
        f->stdin_data = g_string_new(NULL);
        g_assert_cmpint(kc_attach_new(f->dir, &callbacks, f, &f->attach), ==, 0);
}

static void teardown(Fixture *f, gconstpointer data) {
        g_autofree char *sock = g_build_filename(f->dir, "attach", NULL);

        kc_attach_free(f->attach);
        g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS)); /* unlinked */
        g_rmdir(f->dir);
        g_free(f->dir);
        g_string_free(f->stdin_data, TRUE);
}

static void test_socket_mode_and_framing(Fixture *f, gconstpointer data) {
        g_autofree char *sock = g_build_filename(f->dir, "attach", NULL);
        struct stat st;
        char buf[8193];
        int c = connect_client(f);

        g_assert_cmpint(stat(sock, &st), ==, 0);
        g_assert_true(S_ISSOCK(st.st_mode));
        g_assert_cmpint(st.st_mode & 0777, ==, 0700);

        kc_attach_broadcast(f->attach, KC_STREAM_STDOUT, "out\n", 4);
        kc_attach_broadcast(f->attach, KC_STREAM_STDERR, "err\n", 4);
        g_assert_cmpint(recv(c, buf, sizeof(buf), 0), ==, 5);
        g_assert_cmpint(memcmp(buf, "\x02out\n", 5), ==, 0);
        g_assert_cmpint(recv(c, buf, sizeof(buf), 0), ==, 5);
        g_assert_cmpint(memcmp(buf,
                               "\x03"
                               "err\n",
                               5),
                        ==, 0);

        /* a full 8192-byte chunk arrives as one 8193-byte packet */
        char big[8192];
        memset(big, 'z', sizeof(big));
        kc_attach_broadcast(f->attach, KC_STREAM_STDOUT, big, sizeof(big));
        g_assert_cmpint(recv(c, buf, sizeof(buf), 0), ==, 8193);

        /* closing: the client sees EOF */
        kc_attach_close(f->attach);
        g_assert_cmpint(recv(c, buf, sizeof(buf), 0), ==, 0);
        close(c);
}

static void test_slow_client_is_dropped_not_waited_for(Fixture *f, gconstpointer data) {
        int slow = connect_client(f);
        int fast = connect_client(f);
        char chunk[8192];
        char buf[8193];
        size_t total = 0, got = 0;
        gint64 t0 = g_get_monotonic_time();

        memset(chunk, 'a', sizeof(chunk));
        /* far more than the socket buffer and the backlog limit; the fast client keeps up */
        for (int i = 0; i < 1024; i++) {
                kc_attach_broadcast(f->attach, KC_STREAM_STDOUT, chunk, sizeof(chunk));
                total += sizeof(chunk);
                for (;;) {
                        ssize_t n = recv(fast, buf, sizeof(buf), MSG_DONTWAIT);
                        if (n <= 0)
                                break;
                        got += (size_t) n - 1;
                }
                g_main_context_iteration(NULL, FALSE);
        }
        /* never blocked: 8 MiB went by in well under the time a blocking write would hang */
        g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
        for (int i = 0; i < 200 && got < total; i++) {
                iterate(5);
                for (;;) {
                        ssize_t n = recv(fast, buf, sizeof(buf), MSG_DONTWAIT);
                        if (n <= 0)
                                break;
                        got += (size_t) n - 1;
                }
        }
        g_assert_cmpuint(got, ==, total);

        /* the slow client was disconnected: after what it had buffered, EOF */
        ssize_t n;
        size_t slow_bytes = 0;
        struct timeval tv = {2, 0};
        setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        while ((n = recv(slow, buf, sizeof(buf), 0)) > 0)
                slow_bytes += (size_t) n;
        g_assert_cmpint(n, ==, 0);
        g_assert_cmpuint(slow_bytes, <, total);
        close(slow);
        close(fast);
}

static void test_stdin_backpressure(Fixture *f, gconstpointer data) {
        int c = connect_client(f);

        f->stdin_full = true;
        g_assert_cmpint(send(c, "hello", 5, 0), ==, 5);
        g_assert_cmpint(send(c, "world", 5, 0), ==, 5);
        iterate(30);
        g_assert_cmpuint(f->stdin_data->len, ==, 0);
        /* stdin drains: the pending bytes go first, in order, then the next packet */
        f->stdin_full = false;
        kc_attach_resume_input(f->attach);
        iterate(30);
        g_assert_cmpstr(f->stdin_data->str, ==, "helloworld");

        g_assert_cmpint(f->eofs, ==, 0);
        shutdown(c, SHUT_WR);
        iterate(30);
        g_assert_cmpint(f->eofs, ==, 1);
        close(c);
}

int main(int argc, char **argv) {
        signal(SIGPIPE, SIG_IGN);
        g_test_init(&argc, &argv, NULL);
        g_test_add("/monitor/attach/socket-mode-and-framing", Fixture, NULL, setup,
                   test_socket_mode_and_framing, teardown);
        g_test_add("/monitor/attach/slow-client-dropped", Fixture, NULL, setup,
                   test_slow_client_is_dropped_not_waited_for, teardown);
        g_test_add("/monitor/attach/stdin-backpressure", Fixture, NULL, setup, test_stdin_backpressure,
                   teardown);
        return g_test_run();
}
