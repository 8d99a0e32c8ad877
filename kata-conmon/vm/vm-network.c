/* A VM pod's network: taps mirrored (tc) to the pod netns' interfaces; their addresses and routes for the
 * agent. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "macro.h"
#include "message.h"
#include "vm-network.h"

#define MAX_INTERFACES 8
#define MAX_ADDRESSES 16
#define MAX_ROUTES 64

typedef struct Iface {
        char *name, *mac, *tap;
        unsigned mtu;
        GPtrArray *addresses; /* "addr/prefixlen" */
        int tap_fd;
        bool qdisc_on_iface;
} Iface;

typedef struct Route {
        char *dest, *gateway, *device;
} Route;

struct KcVmNetwork {
        int netns_fd;
        GPtrArray *ifaces; /* Iface* */
        GPtrArray *routes; /* Route* */
};

static void iface_free(Iface *i) {
        g_free(i->name);
        g_free(i->mac);
        g_free(i->tap);
        if (i->addresses)
                g_ptr_array_unref(i->addresses);
        safe_close(i->tap_fd);
        g_free(i);
}

static void route_free(Route *r) {
        g_free(r->dest);
        g_free(r->gateway);
        g_free(r->device);
        g_free(r);
}

int kc_vm_network_path(JsonObject *spec, const char **ret, char **ret_error) {
        JsonObject *linux_ = NULL;
        JsonArray *nss = NULL;

        *ret = NULL;
        if (kc_json_get_object(spec, "linux", false, &linux_) < 0 ||
            (linux_ && kc_json_get_array(linux_, "namespaces", 64, false, &nss) < 0)) {
                *ret_error = g_strdup("config.json: linux.namespaces must be an array of objects");
                return -EINVAL;
        }
        for (guint i = 0; nss && i < json_array_get_length(nss); i++) {
                JsonNode *n = json_array_get_element(nss, i);
                const char *type = NULL, *path = NULL;

                if (!JSON_NODE_HOLDS_OBJECT(n) ||
                    kc_json_get_string(json_node_get_object(n), "type", 32, true, &type) < 0 ||
                    kc_json_get_string(json_node_get_object(n), "path", 4096, false, &path) < 0) {
                        *ret_error = g_strdup("config.json: a linux.namespaces entry needs a string type "
                                              "and an optional string path");
                        return -EINVAL;
                }
                if (strcmp(type, "network") != 0 || !path || !path[0])
                        continue;
                if (path[0] != '/') {
                        *ret_error = g_strdup_printf(
                                "config.json: network namespace path '%s' is not absolute", path);
                        return -EINVAL;
                }
                *ret = path;
        }
        return 0;
}

static const char *find_tool(const char *name) {
        static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
        static char buf[64];

        for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
                snprintf(buf, sizeof(buf), "%s/%s", dirs[i], name);
                if (access(buf, X_OK) == 0)
                        return buf;
        }
        return NULL;
}

/* Runs iproute2's ip or tc (in the current netns) with the given arguments; 0 on exit status 0. */
static int run_tool(const char *tool, const char *const *args, char **ret_out, char **ret_error) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *out = NULL, *err = NULL;
        g_autoptr(GError) e = NULL;
        const char *path = find_tool(tool);
        int status = 0;

        if (!path) {
                *ret_error = g_strdup_printf("iproute2's %s is not installed (looked in /usr/sbin, /sbin, "
                                             "/usr/bin, /bin)",
                                             tool);
                return -ENOENT;
        }
        g_ptr_array_add(argv, g_strdup(path));
        for (; *args; args++)
                g_ptr_array_add(argv, g_strdup(*args));
        g_ptr_array_add(argv, NULL);
        if (!g_spawn_sync(NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                          &status, &e)) {
                *ret_error = g_strdup_printf("cannot run %s: %s", path, e->message);
                return -EIO;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                g_autofree char *joined = g_strjoinv(" ", (char **) argv->pdata);
                *ret_error = g_strdup_printf("'%s' failed: %s", joined, g_strstrip(err));
                return -EIO;
        }
        if (ret_out)
                *ret_out = g_steal_pointer(&out);
        return 0;
}

static int parse_json_array(const char *text, JsonParser *p, JsonArray **ret) {
        JsonNode *root;

        if (!json_parser_load_from_data(p, text, -1, NULL))
                return -EBADMSG;
        root = json_parser_get_root(p);
        if (!root || !JSON_NODE_HOLDS_ARRAY(root))
                return -EBADMSG;
        *ret = json_node_get_array(root);
        return 0;
}

static bool valid_ip(const char *s, int *ret_family) {
        unsigned char buf[16];

        if (inet_pton(AF_INET, s, buf) == 1) {
                *ret_family = AF_INET;
                return true;
        }
        if (inet_pton(AF_INET6, s, buf) == 1) {
                *ret_family = AF_INET6;
                return true;
        }
        return false;
}

static int read_interfaces(KcVmNetwork *n, char **ret_error) {
        static const char *const args[] = {"-j", "address", "show", NULL};
        g_autoptr(JsonParser) p = json_parser_new();
        g_autofree char *out = NULL;
        JsonArray *links;
        int r;

        r = run_tool("ip", args, &out, ret_error);
        if (r < 0)
                return r;
        if (parse_json_array(out, p, &links) < 0) {
                *ret_error = g_strdup("cannot parse the output of 'ip -j address show'");
                return -EBADMSG;
        }
        for (guint i = 0; i < json_array_get_length(links); i++) {
                JsonNode *ln = json_array_get_element(links, i);
                JsonObject *l;
                const char *name = NULL, *type = NULL, *mac = NULL;
                JsonArray *ai = NULL;
                int64_t mtu = 0;
                Iface *f;

                if (!JSON_NODE_HOLDS_OBJECT(ln))
                        continue;
                l = json_node_get_object(ln);
                if (kc_json_get_string(l, "ifname", IFNAMSIZ - 1, true, &name) < 0 ||
                    kc_json_get_string(l, "link_type", 32, false, &type) < 0 || !type ||
                    strcmp(type, "ether") != 0 || g_str_has_suffix(name, "_kata"))
                        continue; /* lo, tunnels, our own taps */
                if (kc_json_get_string(l, "address", 17, true, &mac) < 0 || strlen(mac) != 17 ||
                    kc_json_get_int(l, "mtu", 68, 65535, true, &mtu) < 0) {
                        *ret_error = g_strdup_printf("interface %s: no usable MAC address or MTU", name);
                        return -EINVAL;
                }
                if (n->ifaces->len >= MAX_INTERFACES) {
                        *ret_error = g_strdup_printf("more than %d interfaces in the pod network namespace",
                                                     MAX_INTERFACES);
                        return -E2BIG;
                }
                f = g_new0(Iface, 1);
                f->tap_fd = -EBADF;
                f->name = g_strdup(name);
                f->mac = g_ascii_strdown(mac, -1);
                f->mtu = (unsigned) mtu;
                f->tap = g_strdup_printf("tap%u_kata", n->ifaces->len);
                f->addresses = g_ptr_array_new_with_free_func(g_free);
                g_ptr_array_add(n->ifaces, f);
                (void) kc_json_get_array(l, "addr_info", 256, false, &ai);
                for (guint j = 0; ai && j < json_array_get_length(ai); j++) {
                        JsonNode *an = json_array_get_element(ai, j);
                        const char *local = NULL, *scope = NULL;
                        int64_t plen = -1;
                        int family;

                        if (!JSON_NODE_HOLDS_OBJECT(an))
                                continue;
                        JsonObject *a = json_node_get_object(an);
                        if (kc_json_get_string(a, "local", 64, false, &local) < 0 || !local ||
                            kc_json_get_int(a, "prefixlen", 0, 128, false, &plen) < 0 || plen < 0 ||
                            !valid_ip(local, &family) || (family == AF_INET && plen > 32))
                                continue;
                        /* The guest makes its own link-local IPv6 address from the same MAC. */
                        if (kc_json_get_string(a, "scope", 16, false, &scope) >= 0 && scope &&
                            (strcmp(scope, "link") == 0 || strcmp(scope, "host") == 0) && family == AF_INET6)
                                continue;
                        if (f->addresses->len >= MAX_ADDRESSES) {
                                *ret_error = g_strdup_printf("interface %s has more than %d addresses", name,
                                                             MAX_ADDRESSES);
                                return -E2BIG;
                        }
                        g_ptr_array_add(f->addresses, g_strdup_printf("%s/%d", local, (int) plen));
                }
        }
        return 0;
}

static Iface *find_iface(KcVmNetwork *n, const char *name) {
        for (guint i = 0; i < n->ifaces->len; i++) {
                Iface *f = n->ifaces->pdata[i];
                if (strcmp(f->name, name) == 0)
                        return f;
        }
        return NULL;
}

static int read_routes(KcVmNetwork *n, const char *family, char **ret_error) {
        const char *args[] = {family, "-j", "route", "show", "table", "main", NULL};
        g_autoptr(JsonParser) p = json_parser_new();
        g_autofree char *out = NULL;
        JsonArray *routes;
        int r;

        r = run_tool("ip", args, &out, ret_error);
        if (r < 0)
                return r;
        if (parse_json_array(out, p, &routes) < 0) {
                *ret_error = g_strdup_printf("cannot parse the output of 'ip %s -j route show'", family);
                return -EBADMSG;
        }
        /* Two passes: routes without a gateway first (a gateway must be reachable when its route is added).
         */
        for (int pass = 0; pass < 2; pass++)
                for (guint i = 0; i < json_array_get_length(routes); i++) {
                        JsonNode *rn = json_array_get_element(routes, i);
                        const char *dst = NULL, *gw = NULL, *dev = NULL, *proto = NULL, *type = NULL;
                        JsonObject *o;
                        Route *rt;
                        int fam;

                        if (!JSON_NODE_HOLDS_OBJECT(rn))
                                continue;
                        o = json_node_get_object(rn);
                        if (kc_json_get_string(o, "dst", 64, true, &dst) < 0 ||
                            kc_json_get_string(o, "gateway", 64, false, &gw) < 0 ||
                            kc_json_get_string(o, "dev", IFNAMSIZ - 1, false, &dev) < 0 || !dev ||
                            !find_iface(n, dev))
                                continue;
                        (void) kc_json_get_string(o, "protocol", 32, false, &proto);
                        (void) kc_json_get_string(o, "type", 32, false, &type);
                        /* The kernel makes the prefix routes of the addresses itself. */
                        if ((proto && strcmp(proto, "kernel") == 0) ||
                            (type && strcmp(type, "unicast") != 0))
                                continue;
                        if ((pass == 0) != (gw == NULL))
                                continue;
                        if (gw && !valid_ip(gw, &fam))
                                continue;
                        if (n->routes->len >= MAX_ROUTES) {
                                *ret_error = g_strdup_printf(
                                        "more than %d routes in the pod network namespace", MAX_ROUTES);
                                return -E2BIG;
                        }
                        rt = g_new0(Route, 1);
                        rt->dest = g_strdup(dst);
                        rt->gateway = g_strdup(gw);
                        rt->device = g_strdup(dev);
                        g_ptr_array_add(n->routes, rt);
                }
        return 0;
}

static int set_link(const char *name, unsigned mtu) {
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = {0};

        if (s < 0)
                return -errno;
        g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
        ifr.ifr_mtu = (int) mtu;
        if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
                return -errno;
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return -errno;
        ifr.ifr_flags |= IFF_UP;
        return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

static int create_tap(Iface *f, char **ret_error) {
        struct ifreq ifr = {0};
        int r;

        f->tap_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (f->tap_fd < 0) {
                *ret_error = g_strdup_printf("cannot open /dev/net/tun: %s", g_strerror(errno));
                return -errno;
        }
        g_strlcpy(ifr.ifr_name, f->tap, IFNAMSIZ);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        if (ioctl(f->tap_fd, TUNSETIFF, &ifr) < 0) {
                *ret_error = g_strdup_printf("cannot create tap %s: %s", f->tap, g_strerror(errno));
                return -errno;
        }
        r = set_link(f->tap, f->mtu);
        if (r < 0) {
                *ret_error = g_strdup_printf("cannot bring tap %s up: %s", f->tap, g_strerror(-r));
                return r;
        }
        return 0;
}

static int mirror(const char *from, const char *to, char **ret_error) {
        const char *qdisc[] = {"qdisc", "add", "dev", from, "handle", "ffff:", "ingress", NULL};
        const char *filter[] = {"filter", "add",    "dev",      from,  "parent", "ffff:", "protocol",
                                "all",    "u32",    "match",    "u8",  "0",      "0",     "action",
                                "mirred", "egress", "redirect", "dev", to,       NULL};
        int r;

        r = run_tool("tc", qdisc, NULL, ret_error);
        if (r < 0)
                return r;
        return run_tool("tc", filter, NULL, ret_error);
}

static void unmirror(const char *dev) {
        const char *args[] = {"qdisc", "del", "dev", dev, "handle", "ffff:", "ingress", NULL};
        g_autofree char *err = NULL;

        if (run_tool("tc", args, NULL, &err) < 0)
                log_debug("Removing the ingress qdisc of %s: %s", dev, err);
}

static int enter_netns(int target, int *ret_own) {
        _cleanup_close_ int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

        if (own < 0)
                return -errno;
        if (setns(target, CLONE_NEWNET) < 0)
                return -errno;
        *ret_own = TAKE_FD(own);
        return 0;
}

static void leave_netns(int own) {
        if (setns(own, CLONE_NEWNET) < 0) {
                /* Continuing in the pod's netns would be silently wrong for everything after. */
                log_error_errno(errno, "Cannot return to the monitor's own network namespace: %m");
                abort();
        }
        safe_close(own);
}

static void teardown_in_netns(KcVmNetwork *n) {
        for (guint i = 0; i < n->ifaces->len; i++) {
                Iface *f = n->ifaces->pdata[i];

                if (f->qdisc_on_iface)
                        unmirror(f->name);
                f->qdisc_on_iface = false;
                f->tap_fd = safe_close(f->tap_fd);
        }
}

static int setup_in_netns(KcVmNetwork *n, char **ret_error) {
        int r;

        r = read_interfaces(n, ret_error);
        if (r < 0)
                return r;
        if ((r = read_routes(n, "-4", ret_error)) < 0 || (r = read_routes(n, "-6", ret_error)) < 0)
                return r;
        for (guint i = 0; i < n->ifaces->len; i++) {
                Iface *f = n->ifaces->pdata[i];

                r = create_tap(f, ret_error);
                if (r < 0)
                        return r;
                r = mirror(f->name, f->tap, ret_error);
                f->qdisc_on_iface = true; /* also after a half-done mirror: remove what may exist */
                if (r < 0)
                        return r;
                r = mirror(f->tap, f->name, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int kc_vm_network_setup(const char *path, KcVmNetwork **ret, char **ret_error) {
        g_autoptr(KcVmNetwork) n = g_new0(KcVmNetwork, 1);
        int own = -EBADF, r;

        n->netns_fd = -EBADF;
        n->ifaces = g_ptr_array_new_with_free_func((GDestroyNotify) iface_free);
        n->routes = g_ptr_array_new_with_free_func((GDestroyNotify) route_free);
        n->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (n->netns_fd < 0) {
                r = -errno;
                *ret_error = g_strdup_printf("network namespace %s: %s", path, g_strerror(errno));
                return r;
        }
        r = enter_netns(n->netns_fd, &own);
        if (r < 0) {
                *ret_error = g_strdup_printf("cannot enter the network namespace %s: %s", path,
                                             r == -EINVAL ? "not a network namespace" : g_strerror(-r));
                return r;
        }
        r = setup_in_netns(n, ret_error);
        if (r < 0)
                teardown_in_netns(n);
        leave_netns(own);
        if (r < 0) {
                g_autofree char *e = *ret_error;
                *ret_error = g_strdup_printf("pod network %s: %s", path, e ? e : g_strerror(-r));
                return r;
        }
        for (guint i = 0; i < n->ifaces->len; i++) {
                Iface *f = n->ifaces->pdata[i];
                log_info("Pod interface %s (%s, MTU %u) mirrored to %s", f->name, f->mac, f->mtu, f->tap);
        }
        *ret = g_steal_pointer(&n);
        return 0;
}

size_t kc_vm_network_count(const KcVmNetwork *n) {
        return n ? n->ifaces->len : 0;
}

int kc_vm_network_tap_fd(const KcVmNetwork *n, size_t i) {
        return ((Iface *) n->ifaces->pdata[i])->tap_fd;
}

const char *kc_vm_network_mac(const KcVmNetwork *n, size_t i) {
        return ((Iface *) n->ifaces->pdata[i])->mac;
}

void kc_vm_network_close_taps(KcVmNetwork *n) {
        for (guint i = 0; n && i < n->ifaces->len; i++) {
                Iface *f = n->ifaces->pdata[i];
                f->tap_fd = safe_close(f->tap_fd);
        }
}

JsonArray *kc_vm_network_interfaces_json(const KcVmNetwork *n) {
        JsonArray *a = json_array_new();

        for (guint i = 0; n && i < n->ifaces->len; i++) {
                Iface *f = n->ifaces->pdata[i];
                JsonObject *o = json_object_new();
                JsonArray *addrs = json_array_new();

                json_object_set_string_member(o, "name", f->name);
                json_object_set_string_member(o, "mac", f->mac);
                json_object_set_int_member(o, "mtu", f->mtu);
                for (guint j = 0; j < f->addresses->len; j++)
                        json_array_add_string_element(addrs, f->addresses->pdata[j]);
                json_object_set_array_member(o, "addresses", addrs);
                json_array_add_object_element(a, o);
        }
        return a;
}

JsonArray *kc_vm_network_routes_json(const KcVmNetwork *n) {
        JsonArray *a = json_array_new();

        for (guint i = 0; n && i < n->routes->len; i++) {
                Route *rt = n->routes->pdata[i];
                JsonObject *o = json_object_new();

                json_object_set_string_member(o, "dest", rt->dest);
                if (rt->gateway)
                        json_object_set_string_member(o, "gateway", rt->gateway);
                json_object_set_string_member(o, "device", rt->device);
                json_array_add_object_element(a, o);
        }
        return a;
}

void kc_vm_network_free(KcVmNetwork *n) {
        int own = -EBADF;

        if (!n)
                return;
        if (n->netns_fd >= 0 && n->ifaces && enter_netns(n->netns_fd, &own) >= 0) {
                teardown_in_netns(n);
                leave_netns(own);
        }
        safe_close(n->netns_fd);
        if (n->ifaces)
                g_ptr_array_unref(n->ifaces);
        if (n->routes)
                g_ptr_array_unref(n->routes);
        g_free(n);
}
