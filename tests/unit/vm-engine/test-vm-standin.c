/* Unit tests of the stand-in: signals relayed, exit status mirrored, an outside SIGKILL reported. */
#include <glib.h>
#include <string.h>

#include "config.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reaper.h"
#include "vm-standin.h"

typedef struct Seen {
        int signals[8];
        int n_signals;
        bool gone, by_request;
        int wait_status;
} Seen;

static void on_signal(int sig, void *userdata) {
        Seen *s = userdata;
        if (s->n_signals < 8)
                s->signals[s->n_signals++] = sig;
}

static void on_gone(bool by_request, int wait_status, void *userdata) {
        Seen *s = userdata;
        s->gone = true;
        s->by_request = by_request;
        s->wait_status = wait_status;
}

static const KcStandinCallbacks callbacks = {.signal = on_signal, .gone = on_gone};

static void on_reaper_signal(int sig, void *userdata) {
}

static void spin_until(bool *flag) {
        gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
        while (!*flag && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, true);
}

static gboolean wake(gpointer p) {
        return G_SOURCE_CONTINUE;
}

static void run_case(int exit_code, int sig, bool outside_kill) {
        KcReaper *reaper = NULL;
        KcStandin *s = NULL;
        Seen seen = {};
        bool have_signal = false;
        guint tick = g_timeout_add(10, wake, NULL);

        g_assert_cmpint(kc_reaper_new(on_reaper_signal, NULL, &reaper), ==, 0);
        g_assert_cmpint(kc_standin_spawn(reaper, &callbacks, &seen, &s), ==, 0);
        pid_t pid = kc_standin_pid(s);
        g_assert_cmpint(pid, >, 0);
        g_assert_cmpint(kill(pid, 0), ==, 0);

        /* Give it a moment to install its handlers, then signal it like CRI-O's kill would. */
        g_usleep(100 * 1000);
        g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
        g_assert_cmpint(kill(pid, SIGUSR1), ==, 0);
        gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
        while (seen.n_signals < 2 && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, true);
        have_signal = seen.n_signals == 2;
        g_assert_true(have_signal);
        g_assert_cmpint(seen.signals[0] + seen.signals[1], ==, SIGTERM + SIGUSR1);
        g_assert_cmpint(kill(pid, 0), ==, 0); /* still alive: signals are only relayed */
#if HAVE_SECCOMP
        {
                g_autofree char *path = g_strdup_printf("/proc/%d/status", (int) pid), *status = NULL;
                g_assert_true(g_file_get_contents(path, &status, NULL, NULL));
                g_assert_nonnull(strstr(status, "\nSeccomp:\t2\n"));
        }
#endif

        if (outside_kill)
                g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
        else
                g_assert_cmpint(kc_standin_finish(s, exit_code, sig), ==, 0);
        spin_until(&seen.gone);
        g_assert_true(seen.gone);
        if (outside_kill) {
                g_assert_false(seen.by_request);
                g_assert_true(WIFSIGNALED(seen.wait_status) && WTERMSIG(seen.wait_status) == SIGKILL);
        } else if (sig) {
                g_assert_true(seen.by_request);
                g_assert_true(WIFSIGNALED(seen.wait_status));
                g_assert_cmpint(WTERMSIG(seen.wait_status), ==, sig);
        } else {
                g_assert_true(seen.by_request);
                g_assert_true(WIFEXITED(seen.wait_status));
                g_assert_cmpint(WEXITSTATUS(seen.wait_status), ==, exit_code);
        }
        g_assert_cmpint(kill(pid, 0), ==, -1);
        kc_standin_free(s);
        kc_reaper_free(reaper);
        g_source_remove(tick);
}

static void test_exit_code(void) {
        run_case(3, 0, false);
}

static void test_exit_zero(void) {
        run_case(0, 0, false);
}

static void test_signal(void) {
        run_case(0, SIGTERM, false);
}

static void test_signal_segv_no_core(void) {
        run_case(0, SIGSEGV, false);
}

static void test_outside_kill(void) {
        run_case(0, 0, true);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/vm-standin/exit-code", test_exit_code);
        g_test_add_func("/vm-standin/exit-zero", test_exit_zero);
        g_test_add_func("/vm-standin/signal", test_signal);
        g_test_add_func("/vm-standin/signal-segv", test_signal_segv_no_core);
        g_test_add_func("/vm-standin/outside-kill", test_outside_kill);
        return g_test_run();
}
