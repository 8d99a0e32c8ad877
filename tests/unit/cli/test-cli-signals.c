/* Unit tests: kill's signal parsing (numbers, names with and without SIG, any case, realtime). */
#include <errno.h>
#include <glib.h>
#include <signal.h>

#include "signals.h"

static void assert_sig(const char *s, int expected) {
        int sig = -1;
        g_assert_cmpint(kr_signal_parse(s, &sig), ==, 0);
        g_assert_cmpint(sig, ==, expected);
}

static void assert_bad(const char *s) {
        int sig = 12345;
        g_assert_cmpint(kr_signal_parse(s, &sig), ==, -EINVAL);
        g_assert_cmpint(sig, ==, 12345); /* untouched on error */
}

static void test_numbers(void) {
        assert_sig("9", SIGKILL);
        assert_sig("15", SIGTERM);
        assert_sig("1", SIGHUP);
        assert_sig("64", 64);
        assert_bad("0");
        assert_bad("65");
        assert_bad("-9");
        assert_bad("+9");
        assert_bad("9x");
        assert_bad(" 9");
        assert_bad("99999999999999999999");
}

static void test_names(void) {
        assert_sig("KILL", SIGKILL);
        assert_sig("SIGKILL", SIGKILL);
        assert_sig("kill", SIGKILL);
        assert_sig("sigkill", SIGKILL);
        assert_sig("SigTerm", SIGTERM);
        assert_sig("TERM", SIGTERM);
        assert_sig("WINCH", SIGWINCH);
        assert_sig("SIGUSR1", SIGUSR1);
        assert_sig("cont", SIGCONT);
        assert_sig("STOP", SIGSTOP);
        assert_bad("");
        assert_bad("SIG");
        assert_bad("KILLL");
        assert_bad("SIGSIGKILL");
        assert_bad("BOGUS");
        g_assert_cmpint(kr_signal_parse(NULL, &(int){0}), ==, -EINVAL);
}

static void test_realtime(void) {
        assert_sig("RTMIN", SIGRTMIN);
        assert_sig("SIGRTMIN+3", SIGRTMIN + 3);
        assert_sig("rtmax-1", SIGRTMAX - 1);
        assert_sig("RTMAX", SIGRTMAX);
        assert_bad("RTMIN-1");
        assert_bad("RTMAX+1");
        assert_bad("RTMIN+100");
        assert_bad("RTMIN+");
}

static void test_name_of(void) {
        g_assert_cmpstr(kr_signal_name(SIGKILL), ==, "KILL");
        g_assert_cmpstr(kr_signal_name(SIGTERM), ==, "TERM");
        g_assert_null(kr_signal_name(0));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/cli/signals/numbers", test_numbers);
        g_test_add_func("/cli/signals/names", test_names);
        g_test_add_func("/cli/signals/realtime", test_realtime);
        g_test_add_func("/cli/signals/name-of", test_name_of);
        return g_test_run();
}
