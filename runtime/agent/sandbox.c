/* kata-agent: sandbox setup (hostname, DNS, shared filesystem, guest mounts) and power-off. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"

/* Modules load only when first needed: under TCG each costs guest time on the pod's start path. */
#define MODULES_LATE_DELAY_MS 2000

static int mount_one(const char *type, const char *tag, const char *dir) {
        modules_load_group(strcmp(type, "virtio-fs") == 0 ? "virtiofs" : "9p");
        if (strcmp(type, "virtio-fs") == 0)
                return mount(tag, dir, "virtiofs", MS_NOSUID | MS_NODEV, NULL) < 0 ? -errno : 0;
        return mount(tag, dir, "9p", MS_NOSUID | MS_NODEV,
                     "trans=virtio,version=9p2000.L,cache=mmap,msize=262144") < 0
                       ? -errno
                       : 0;
}

/* Mounts the shared directory; virtio-fs falls back to 9p (same tag) when the VM has no virtio-fs
 * device with that tag. *ret_type says what was mounted. */
static int mount_shared(Agent *a, const char *type, const char *tag, const char **ret_type,
                        char **ret_error) {
        int r;

        *ret_type = "none";
        if (strcmp(type, "none") == 0)
                return 0;
        if (strcmp(type, "virtio-fs") != 0 && strcmp(type, "9p") != 0) {
                *ret_error = g_strdup_printf("unknown shared-fs type %s", type);
                return -EINVAL;
        }
        r = mkdir_p(a->shared_dir, 0755);
        if (r < 0) {
                *ret_error = g_strdup("cannot create the shared directory");
                return r;
        }
        r = mount_one(type, tag, a->shared_dir);
        if (r < 0 && strcmp(type, "virtio-fs") == 0) {
                log_info("virtio-fs tag %s: %s; trying 9p", tag, g_strerror(-r));
                type = "9p";
                r = mount_one(type, tag, a->shared_dir);
        }
        if (r < 0) {
                *ret_error = g_strdup_printf("mounting %s tag %s on %s: %s", type, tag, a->shared_dir,
                                             g_strerror(-r));
                return r;
        }
        log_info("Mounted %s tag %s on %s", type, tag, a->shared_dir);
        *ret_type = type;
        return 0;
}

static int write_resolv_conf(JsonArray *dns, char **ret_error) {
        g_autoptr(GString) s = g_string_new(NULL);

        for (guint i = 0; i < json_array_get_length(dns); i++) {
                JsonNode *n = json_array_get_element(dns, i);
                const char *line;

                if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING ||
                    strlen(line = json_node_get_string(n)) > 256 || strpbrk(line, "\n\r")) {
                        *ret_error = g_strdup("dns entries must be single lines of at most 256 bytes");
                        return -EINVAL;
                }
                g_string_append_printf(s, "%s\n", line);
        }
        (void) mkdir_p("/etc", 0755);
        return write_file_atomic("/etc/resolv.conf", s->str, s->len, 0644, false);
}

static int guest_mount(JsonObject *m, char **ret_error) {
        const char *src = NULL, *dst = NULL, *type = NULL;
        g_autoptr(GString) data = g_string_new(NULL);
        JsonArray *opts = NULL;
        unsigned long flags = 0;

        if (kc_json_get_string(m, "source", 1024, true, &src) < 0 ||
            kc_json_get_string(m, "destination", 1024, true, &dst) < 0 ||
            kc_json_get_string(m, "type", 64, true, &type) < 0 ||
            kc_json_get_array(m, "options", 64, false, &opts) < 0 || dst[0] != '/' || strstr(dst, "/..")) {
                *ret_error = g_strdup("a mount needs source, absolute destination, type, options[]");
                return -EINVAL;
        }
        for (guint i = 0; opts && i < json_array_get_length(opts); i++) {
                JsonNode *n = json_array_get_element(opts, i);
                const char *o;

                if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) {
                        *ret_error = g_strdup("mount options must be strings");
                        return -EINVAL;
                }
                o = json_node_get_string(n);
                if (strcmp(o, "ro") == 0)
                        flags |= MS_RDONLY;
                else if (strcmp(o, "nosuid") == 0)
                        flags |= MS_NOSUID;
                else if (strcmp(o, "nodev") == 0)
                        flags |= MS_NODEV;
                else if (strcmp(o, "noexec") == 0)
                        flags |= MS_NOEXEC;
                else if (strcmp(o, "rw") != 0)
                        g_string_append_printf(data, "%s%s", data->len ? "," : "", o);
        }
        (void) mkdir_p(dst, 0755);
        if (mount(src, dst, type, flags, data->len ? data->str : NULL) < 0) {
                *ret_error = g_strdup_printf("mount %s on %s: %s", type, dst, g_strerror(errno));
                return -errno;
        }
        return 0;
}

/* The shared directory's read-ahead (its mount's backing device info). A binary the container execs
 * is read through page faults, each a round trip to virtiofsd for the read-ahead window around it:
 * with the kernel's 128 KiB, busybox's first exec took 120-150 ms in a TCG guest, with 4 MiB 30 ms. */
static void set_read_ahead(const char *dir, int64_t kb) {
        g_autofree char *path = NULL, *value = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        if (kb <= 0)
                return;
        if (stat(dir, &st) < 0) {
                log_warning_errno(errno, "Cannot stat %s: %m", dir);
                return;
        }
        path = g_strdup_printf("/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev), minor(st.st_dev));
        value = g_strdup_printf("%" PRId64, kb);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        r = fd < 0 ? -errno : write_all(fd, value, strlen(value));
        if (r < 0)
                log_warning_errno(r, "Cannot set the read-ahead of %s (%s): %m", dir, path);
        else
                log_debug("Read-ahead of %s: %" PRId64 " KiB", dir, kb);
}

int sandbox_create(Agent *a, JsonObject *req, const char **ret_fs, char **ret_error) {
        const char *hostname = NULL, *type = "virtio-fs", *tag = "kataShared";
        int64_t read_ahead_kb = 0;
        JsonArray *dns = NULL, *mounts = NULL;
        JsonObject *fs = NULL;
        int r;

        if (kc_json_get_string(req, "hostname", 64, false, &hostname) < 0 ||
            kc_json_get_array(req, "dns", 32, false, &dns) < 0 ||
            kc_json_get_object(req, "shared-fs", false, &fs) < 0 ||
            kc_json_get_array(req, "mounts", 64, false, &mounts) < 0 ||
            (fs && (kc_json_get_string(fs, "type", 16, false, &type) < 0 ||
                    kc_json_get_string(fs, "tag", 36, false, &tag) < 0 ||
                    kc_json_get_int(fs, "read-ahead-kb", 0, 65536, false, &read_ahead_kb) < 0))) {
                *ret_error = g_strdup("malformed create-sandbox request");
                return -EINVAL;
        }
        r = network_configure(req, false, ret_error);
        if (r < 0)
                return r;
        if (!a->init_mode) {
                /* Host mode: nothing of the machine's own may change. */
                log_info("Host mode: create-sandbox accepted without touching hostname, DNS or mounts");
                return 0;
        }
        if (hostname && hostname[0] && sethostname(hostname, strlen(hostname)) < 0) {
                *ret_error = g_strdup_printf("sethostname: %s", g_strerror(errno));
                return -errno;
        }
        if (dns) {
                r = write_resolv_conf(dns, ret_error);
                if (r < 0)
                        return r;
        }
        r = network_configure(req, true, ret_error);
        if (r < 0)
                return r;
        r = mount_shared(a, type, tag, ret_fs, ret_error);
        if (r < 0)
                return r;
        if (strcmp(*ret_fs, "none") != 0)
                set_read_ahead(a->shared_dir, read_ahead_kb);
        /* The operator's extra modules; guest mounts may need any file system of the image. */
        modules_load_group("sandbox");
        if (mounts && json_array_get_length(mounts) > 0)
                modules_load_all();
        for (guint i = 0; mounts && i < json_array_get_length(mounts); i++) {
                JsonNode *n = json_array_get_element(mounts, i);
                if (!JSON_NODE_HOLDS_OBJECT(n)) {
                        *ret_error = g_strdup("mounts must hold objects");
                        return -EINVAL;
                }
                r = guest_mount(json_node_get_object(n), ret_error);
                if (r < 0)
                        return r;
        }
        /* The rest (virtio-rng, overlay, ...) off the pod's start path. */
        modules_load_later(MODULES_LATE_DELAY_MS);
        return 0;
}

void sandbox_destroy(Agent *a) {
        channel_flush(a->channel, 2000);
        agent_remove_all_containers(a);
        channel_flush(a->channel, 1000);
        if (!a->init_mode)
                exit(0);
        sync();
        (void) umount2(a->shared_dir, MNT_DETACH);
        init_poweroff();
}
