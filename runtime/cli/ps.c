/* `kata-runtime ps [--format table|json] <id>` and `list`: host processes and containers. The
 * container's own processes live in the guest; on the host it is represented by one pid (the
 * stand-in, or QEMU for a sandbox), which is what these report. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "kata-runtime.h"
#include "log.h"

static int parse_format(int argc, char **argv, const char *usage, bool *ret_json) {
        static const struct option options[] = {
                {"format", required_argument, NULL, 'f'},
                {"quiet", no_argument, NULL, 'q'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;

        *ret_json = false;
        while ((c = getopt_long(argc, argv, "f:qh", options, NULL)) >= 0)
                switch (c) {
                case 'f':
                        if (strcmp(optarg, "json") == 0)
                                *ret_json = true;
                        else if (strcmp(optarg, "table") != 0)
                                return log_error_errno(EINVAL, "invalid format \"%s\" (table or json)",
                                                       optarg);
                        break;
                case 'q':
                        break;
                case 'h':
                        printf("Usage: kata-runtime %s\n", usage);
                        return 1;
                default:
                        return log_error_errno(EINVAL, "%s: unknown option", argv[0]);
                }
        return 0;
}

int kr_cmd_ps(KrContext *ctx, int argc, char **argv) {
        _cleanup_close_ int lock_fd = -EBADF;
        g_autoptr(KrState) s = NULL;
        bool json;
        int r;

        r = parse_format(argc, argv, "ps [--format table|json] <container-id>", &json);
        if (r != 0)
                return r < 0 ? r : 0;
        r = kr_need_args(argc, argv, optind, 1, 1, "ps [--format table|json] <container-id>");
        if (r < 0)
                return r;
        r = kr_container_open(ctx, argv[optind], false, &lock_fd, &s);
        if (r < 0)
                return r;

        if (kr_state_effective_status(s) == KR_STATUS_STOPPED) {
                if (json)
                        printf("[]\n");
                else
                        printf("PID\tCMD\n");
                return 0;
        }
        if (json)
                printf("[%d]\n", (int) s->pid);
        else {
                g_autofree char *path = g_strdup_printf("/proc/%d/comm", (int) s->pid), *comm = NULL;
                if (!g_file_get_contents(path, &comm, NULL, NULL))
                        comm = g_strdup("?");
                printf("PID\tCMD\n%d\t%s\n", (int) s->pid, g_strchomp(comm));
        }
        return 0;
}

int kr_cmd_list(KrContext *ctx, int argc, char **argv) {
        g_autoptr(JsonArray) all = json_array_new();
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_ARRAY);
        g_autofree char *text = NULL;
        g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
        DIR *d;
        struct dirent *de;
        bool json;
        int r;

        r = parse_format(argc, argv, "list [--format table|json]", &json);
        if (r != 0)
                return r < 0 ? r : 0;

        d = opendir(ctx->root);
        if (d) {
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.')
                                g_ptr_array_add(ids, g_strdup(de->d_name));
                closedir(d);
        } else if (errno != ENOENT)
                return log_error_errno(errno, "Failed to open %s: %m", ctx->root);

        if (!json)
                printf("ID\tPID\tSTATUS\tBUNDLE\tCREATED\n");
        for (guint i = 0; i < ids->len; i++) {
                g_autoptr(KrState) s = NULL;
                KrStatus st;

                if (kr_state_load(ctx->root, ids->pdata[i], &s) < 0)
                        continue; /* being created or deleted */
                st = kr_state_effective_status(s);
                if (json)
                        json_array_add_object_element(all, kr_oci_state_build(s, st));
                else
                        printf("%s\t%d\t%s\t%s\t%s\n", s->id, st == KR_STATUS_STOPPED ? 0 : (int) s->pid,
                               kr_status_to_string(st), s->bundle ? s->bundle : "",
                               s->created ? s->created : "");
        }
        if (json) {
                json_node_set_array(node, all);
                text = json_to_string(node, false);
                printf("%s\n", text);
        }
        return 0;
}
