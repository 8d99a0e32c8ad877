/* Unit tests: state.json parsing and rewriting, liveness by pid + start time, OCI state, transitions,
 * the per-container lock. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "kc-state.h"

static const char contract_example[] =
        "{\"id\":\"web\",\"role\":\"container\",\"sandbox_id\":\"pod1\","
        "\"bundle\":\"/var/lib/containers/storage/overlay-containers/web/userdata\",\"pid\":12345,"
        "\"monitor_pid\":12340,\"pid_start_time\":987654,\"status\":\"running\","
        "\"created\":\"2026-12-06T01:50:00.123456789Z\",\"exit_status\":0,"
        "\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\"},"
        "\"sandbox_dir\":\"/run/kata-containers/kata-conmon/pod1\",\"future\":[1,2]}";

static void test_parse(void) {
        g_autoptr(KrState) s = NULL;

        g_assert_cmpint(kr_state_parse(contract_example, strlen(contract_example), &s), ==, 0);
        g_assert_cmpstr(s->id, ==, "web");
        g_assert_cmpint(s->role, ==, KR_ROLE_CONTAINER);
        g_assert_cmpstr(s->sandbox_id, ==, "pod1");
        g_assert_cmpint(s->pid, ==, 12345);
        g_assert_cmpint(s->monitor_pid, ==, 12340);
        g_assert_cmpuint(s->pid_start_time, ==, 987654);
        g_assert_cmpint(s->status, ==, KR_STATUS_RUNNING);
        g_assert_true(s->has_exit_status);
        g_assert_cmpint(s->exit_status, ==, 0);
        g_assert_cmpstr(s->sandbox_dir, ==, "/run/kata-containers/kata-conmon/pod1");
        g_assert_cmpstr(json_object_get_string_member(s->annotations, "io.kubernetes.cri-o.ContainerType"),
                        ==, "container");
}

static void test_parse_sandbox_defaults(void) {
        static const char text[] = "{\"id\":\"pod\",\"role\":\"sandbox\",\"status\":\"created\",\"pid\":0}";
        g_autoptr(KrState) s = NULL;

        g_assert_cmpint(kr_state_parse(text, strlen(text), &s), ==, 0);
        g_assert_cmpint(s->role, ==, KR_ROLE_SANDBOX);
        g_assert_cmpstr(s->sandbox_id, ==, "pod"); /* a sandbox is its own pod */
        g_assert_false(s->has_exit_status);
        g_assert_cmpuint(json_object_get_size(s->annotations), ==, 0);
}

static void test_parse_bad(void) {
        static const char *const bad[] = {
                "",
                "[]",
                "{",
                "{\"role\":\"sandbox\",\"status\":\"created\"}",                /* no id */
                "{\"id\":\"../x\",\"status\":\"created\"}",                     /* bad id */
                "{\"id\":\"a\",\"status\":\"sleeping\"}",                       /* bad status */
                "{\"id\":\"a\",\"status\":\"created\",\"role\":\"vm\"}",        /* bad role */
                "{\"id\":\"a\",\"status\":\"created\",\"role\":\"container\"}", /* no sandbox */
                "{\"id\":\"a\",\"status\":\"created\",\"pid\":\"12\"}",         /* pid type */
                "{\"id\":\"a\",\"status\":\"created\",\"pid\":-4}",             /* pid range */
                "{\"id\":\"a\",\"status\":\"created\",\"annotations\":[]}",     /* annotations type */
                "{\"id\":\"a\",\"status\":\"created\",\"exit_status\":1.5}",
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                KrState *s = NULL;
                g_assert_cmpint(kr_state_parse(bad[i], strlen(bad[i]), &s), ==, -EBADMSG);
                g_assert_null(s);
        }
}

static void test_roundtrip_keeps_unknown(void) {
        g_autoptr(KrState) s = NULL, t = NULL;
        g_autofree char *text = NULL;

        g_assert_cmpint(kr_state_parse(contract_example, strlen(contract_example), &s), ==, 0);
        s->status = KR_STATUS_STOPPED;
        s->exit_status = 137;
        text = kr_state_serialize(s);
        g_assert_nonnull(strstr(text, "\"future\""));
        g_assert_cmpint(kr_state_parse(text, strlen(text), &t), ==, 0);
        g_assert_cmpint(t->status, ==, KR_STATUS_STOPPED);
        g_assert_cmpint(t->exit_status, ==, 137);
        g_assert_cmpstr(t->bundle, ==, s->bundle);
        g_assert_cmpstr(t->created, ==, s->created);
}

static KrState *state_for(pid_t pid, uint64_t start, KrStatus status) {
        g_autofree char *text = g_strdup_printf(
                "{\"id\":\"c1\",\"role\":\"sandbox\",\"status\":\"%s\",\"pid\":%d,\"pid_start_time\":"
                "%" G_GUINT64_FORMAT
                ",\"bundle\":\"/b\",\"created\":\"2026-01-01T00:00:00Z\",\"annotations\":{\"a\":\"b\"}}",
                kr_status_to_string(status), (int) pid, start);
        KrState *s = NULL;
        g_assert_cmpint(kr_state_parse(text, strlen(text), &s), ==, 0);
        return s;
}

static void test_liveness(void) {
        uint64_t start = 0;
        pid_t child;
        int status;

        child = fork();
        g_assert_cmpint(child, >=, 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        g_assert_cmpint(proc_start_time(child, &start), ==, 0);
        g_assert_cmpuint(start, >, 0);

        {
                g_autoptr(KrState) live = state_for(child, start, KR_STATUS_RUNNING);
                g_autoptr(KrState) reused = state_for(child, start + 1, KR_STATUS_RUNNING);
                g_autoptr(KrState) paused = state_for(child, start, KR_STATUS_PAUSED);
                g_autoptr(KrState) stopped = state_for(child, start, KR_STATUS_STOPPED);

                g_assert_true(kr_state_pid_alive(live));
                g_assert_cmpint(kr_state_effective_status(live), ==, KR_STATUS_RUNNING);
                g_assert_cmpint(kr_state_effective_status(paused), ==, KR_STATUS_PAUSED);
                /* Same pid, other start time: a reused pid is not our process. */
                g_assert_false(kr_state_pid_alive(reused));
                g_assert_cmpint(kr_state_effective_status(reused), ==, KR_STATUS_STOPPED);
                g_assert_cmpint(kr_state_effective_status(stopped), ==, KR_STATUS_STOPPED);
        }

        /* A zombie is dead. */
        g_assert_cmpint(kill(child, SIGKILL), ==, 0);
        for (int i = 0; i < 500; i++) {
                g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int) child), *text = NULL;
                if (g_file_get_contents(path, &text, NULL, NULL) && strstr(text, ") Z "))
                        break;
                g_usleep(2000);
        }
        g_assert_cmpint(proc_start_time(child, &start), ==, -ESRCH);
        {
                g_autoptr(KrState) zombie = state_for(child, start, KR_STATUS_RUNNING);
                g_assert_cmpint(kr_state_effective_status(zombie), ==, KR_STATUS_STOPPED);
        }
        g_assert_cmpint(waitpid(child, &status, 0), ==, child);
        g_assert_cmpint(proc_start_time(child, &start), ==, -ESRCH);
        g_assert_cmpint(proc_start_time(0, &start), ==, -ESRCH);
}

static void test_oci_state(void) {
        g_autoptr(KrState) s = state_for(getpid(), 0, KR_STATUS_RUNNING);
        g_autoptr(JsonObject) running = kr_oci_state_build(s, KR_STATUS_RUNNING);
        g_autoptr(JsonObject) stopped = kr_oci_state_build(s, KR_STATUS_STOPPED);

        g_assert_cmpstr(json_object_get_string_member(running, "ociVersion"), ==, KR_OCI_VERSION);
        g_assert_cmpstr(json_object_get_string_member(running, "id"), ==, "c1");
        g_assert_cmpstr(json_object_get_string_member(running, "status"), ==, "running");
        g_assert_cmpint(json_object_get_int_member(running, "pid"), ==, getpid());
        g_assert_cmpstr(json_object_get_string_member(running, "bundle"), ==, "/b");
        g_assert_cmpstr(json_object_get_string_member(running, "created"), ==, "2026-01-01T00:00:00Z");
        g_assert_cmpstr(
                json_object_get_string_member(json_object_get_object_member(running, "annotations"), "a"),
                ==, "b");
        g_assert_cmpstr(json_object_get_string_member(stopped, "status"), ==, "stopped");
        g_assert_cmpint(json_object_get_int_member(stopped, "pid"), ==, 0);
}

static void test_transitions(void) {
        const char *reason = NULL;

        g_assert_cmpint(kr_status_check(KR_STATUS_CREATED, KR_VERB_START, NULL), ==, 0);
        g_assert_cmpint(kr_status_check(KR_STATUS_RUNNING, KR_VERB_START, &reason), ==, -EBUSY);
        g_assert_nonnull(strstr(reason, "already running"));
        g_assert_cmpint(kr_status_check(KR_STATUS_STOPPED, KR_VERB_START, NULL), ==, -EBUSY);

        g_assert_cmpint(kr_status_check(KR_STATUS_RUNNING, KR_VERB_PAUSE, NULL), ==, 0);
        g_assert_cmpint(kr_status_check(KR_STATUS_PAUSED, KR_VERB_PAUSE, NULL), ==, -EBUSY);
        g_assert_cmpint(kr_status_check(KR_STATUS_PAUSED, KR_VERB_RESUME, NULL), ==, 0);
        g_assert_cmpint(kr_status_check(KR_STATUS_RUNNING, KR_VERB_RESUME, NULL), ==, -EBUSY);

        g_assert_cmpint(kr_status_check(KR_STATUS_RUNNING, KR_VERB_KILL, NULL), ==, 0);
        g_assert_cmpint(kr_status_check(KR_STATUS_CREATED, KR_VERB_KILL, NULL), ==, 0);
        g_assert_cmpint(kr_status_check(KR_STATUS_PAUSED, KR_VERB_KILL, NULL), ==, 0);
        g_assert_cmpint(kr_status_check(KR_STATUS_STOPPED, KR_VERB_KILL, &reason), ==, -EBUSY);
        /* CRI-O maps this phrase to "not found". */
        g_assert_nonnull(strstr(reason, "container not running"));

        g_assert_cmpint(kr_status_check(KR_STATUS_RUNNING, KR_VERB_EXEC, NULL), ==, 0);
        g_assert_cmpint(kr_status_check(KR_STATUS_PAUSED, KR_VERB_EXEC, NULL), ==, -EBUSY);
        g_assert_cmpint(kr_status_check(KR_STATUS_STOPPED, KR_VERB_EXEC, NULL), ==, -EBUSY);

        g_assert_cmpint(kr_status_check(KR_STATUS_STOPPED, KR_VERB_DELETE, NULL), ==, 0);
        g_assert_cmpint(kr_status_check(KR_STATUS_CREATED, KR_VERB_DELETE, NULL), ==, 0);
        g_assert_cmpint(kr_status_check(KR_STATUS_RUNNING, KR_VERB_DELETE, NULL), ==, -EBUSY);
        g_assert_cmpint(kr_status_check(KR_STATUS_PAUSED, KR_VERB_DELETE, NULL), ==, -EBUSY);

        g_assert_cmpint(kr_status_from_string("paused"), ==, KR_STATUS_PAUSED);
        g_assert_cmpint(kr_status_from_string("creating"), <, 0);
}

static void test_lock_load_save(void) {
        g_autofree char *root = g_dir_make_tmp("kr-state-XXXXXX", NULL);
        g_autofree char *dir = g_build_filename(root, "c1", NULL);
        g_autoptr(KrState) s = state_for(1, 0, KR_STATUS_CREATED);
        g_autoptr(KrState) t = NULL;
        int fd = -1, fd2 = -1;
        pid_t child;
        int status;

        g_assert_nonnull(root);
        g_assert_cmpint(kr_state_lock(root, "c1", true, &fd), ==, -ENOENT);
        g_assert_cmpint(kr_state_lock(root, "../etc", true, &fd), ==, -EINVAL);
        g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
        g_assert_cmpint(kr_state_load(root, "c1", &t), ==, -ENOENT);

        g_assert_cmpint(kr_state_lock(root, "c1", true, &fd), ==, 0);
        g_assert_cmpint(kr_state_save(root, s), ==, 0);
        g_assert_cmpint(kr_state_load(root, "c1", &t), ==, 0);
        g_assert_cmpint(t->status, ==, KR_STATUS_CREATED);

        /* Held exclusively: another open file description cannot take it. */
        child = fork();
        if (child == 0) {
                int lfd = open(g_build_filename(dir, "lock", NULL), O_RDWR);
                _exit(flock(lfd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK ? 0 : 1);
        }
        g_assert_cmpint(waitpid(child, &status, 0), ==, child);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        /* A waiter that gets the lock after the directory was removed sees "not found". */
        child = fork();
        if (child == 0) {
                close(fd); /* else our copy of the parent's lock keeps it held */
                _exit(kr_state_lock(root, "c1", false, &fd2) == -ENOENT ? 0 : 1);
        }
        g_usleep(100 * 1000);
        g_assert_cmpint(rm_rf(dir), ==, 0);
        close(fd);
        g_assert_cmpint(waitpid(child, &status, 0), ==, child);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        g_assert_cmpint(rm_rf(root), ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/cli/state/parse", test_parse);
        g_test_add_func("/cli/state/parse-sandbox-defaults", test_parse_sandbox_defaults);
        g_test_add_func("/cli/state/parse-bad", test_parse_bad);
        g_test_add_func("/cli/state/roundtrip", test_roundtrip_keeps_unknown);
        g_test_add_func("/cli/state/liveness", test_liveness);
        g_test_add_func("/cli/state/oci-state", test_oci_state);
        g_test_add_func("/cli/state/transitions", test_transitions);
        g_test_add_func("/cli/state/lock", test_lock_load_save);
        return g_test_run();
}
