/* kata-agent: the pod network in the guest (create-sandbox "interfaces"/"routes"): NICs by MAC, addresses,
 * MTU, routes. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

#define MAX_INTERFACES 8
#define MAX_ADDRESSES 16
#define MAX_ROUTES 64
#define NIC_WAIT_MS 10000

typedef struct Prefix {
        int family;
        unsigned char addr[16];
        unsigned len;
} Prefix;

typedef struct NetIface {
        const char *name, *mac;
        unsigned mtu;
        Prefix addrs[MAX_ADDRESSES];
        size_t n_addrs;
        unsigned index; /* in the guest, once found */
} NetIface;

typedef struct NetRoute {
        bool is_default;
        Prefix dest;
        bool has_gateway;
        Prefix gateway; /* len unused */
        size_t iface;
} NetRoute;

typedef struct NetConfig {
        NetIface ifaces[MAX_INTERFACES];
        size_t n_ifaces;
        NetRoute routes[MAX_ROUTES];
        size_t n_routes;
} NetConfig;

static bool parse_ip(const char *s, Prefix *ret) {
        if (inet_pton(AF_INET, s, ret->addr) == 1) {
                ret->family = AF_INET;
                return true;
        }
        if (inet_pton(AF_INET6, s, ret->addr) == 1) {
                ret->family = AF_INET6;
                return true;
        }
        return false;
}

/* "addr/len" */
static bool parse_prefix(const char *s, Prefix *ret) {
        g_autofree char *ip = NULL;
        const char *slash = strchr(s, '/');
        int64_t len;
        char *end;

        if (!slash || strlen(s) > 64)
                return false;
        ip = g_strndup(s, (size_t) (slash - s));
        if (!parse_ip(ip, ret) || !g_ascii_isdigit(slash[1]))
                return false;
        errno = 0;
        len = g_ascii_strtoll(slash + 1, &end, 10);
        if (errno || *end || len < 0 || len > (ret->family == AF_INET ? 32 : 128))
                return false;
        ret->len = (unsigned) len;
        return true;
}

static bool valid_mac(const char *m) {
        if (strlen(m) != 17)
                return false;
        for (int i = 0; i < 17; i++)
                if (i % 3 == 2 ? m[i] != ':' : !g_ascii_isxdigit(m[i]))
                        return false;
        return true;
}

static bool valid_ifname(const char *n) {
        if (!n[0] || strlen(n) >= IFNAMSIZ || strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
                return false;
        for (; *n; n++)
                if (*n == '/' || *n == ':' || g_ascii_isspace(*n) || !g_ascii_isprint(*n))
                        return false;
        return true;
}

static const char *node_string(JsonNode *n) {
        if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
                return NULL;
        return json_node_get_string(n);
}

static int parse_iface(JsonNode *node, NetIface *f, char **ret_error) {
        JsonObject *o;
        JsonArray *addrs = NULL;
        int64_t mtu = 0;

        if (!JSON_NODE_HOLDS_OBJECT(node))
                goto bad;
        o = json_node_get_object(node);
        if (kc_json_get_string(o, "name", IFNAMSIZ - 1, true, &f->name) < 0 || !valid_ifname(f->name) ||
            kc_json_get_string(o, "mac", 17, true, &f->mac) < 0 || !valid_mac(f->mac) ||
            kc_json_get_int(o, "mtu", 68, 65535, true, &mtu) < 0 ||
            kc_json_get_array(o, "addresses", MAX_ADDRESSES, false, &addrs) < 0)
                goto bad;
        f->mtu = (unsigned) mtu;
        for (guint i = 0; addrs && i < json_array_get_length(addrs); i++) {
                const char *s = node_string(json_array_get_element(addrs, i));

                if (!s || !parse_prefix(s, &f->addrs[f->n_addrs])) {
                        *ret_error = g_strdup_printf("interface %s: address %s is not ADDRESS/PREFIXLEN",
                                                     f->name, s ? s : "(not a string)");
                        return -EINVAL;
                }
                f->n_addrs++;
        }
        return 0;
bad:
        *ret_error = g_strdup_printf("an interface needs name (a valid interface name), mac "
                                     "(xx:xx:xx:xx:xx:xx), mtu (68..65535) and at most %d addresses",
                                     MAX_ADDRESSES);
        return -EINVAL;
}

static int parse_route(NetConfig *c, JsonNode *node, NetRoute *rt, char **ret_error) {
        const char *dest = NULL, *gw = NULL, *dev = NULL;
        JsonObject *o;

        if (!JSON_NODE_HOLDS_OBJECT(node) ||
            kc_json_get_string(o = json_node_get_object(node), "dest", 64, true, &dest) < 0 ||
            kc_json_get_string(o, "gateway", 64, false, &gw) < 0 ||
            kc_json_get_string(o, "device", IFNAMSIZ - 1, true, &dev) < 0) {
                *ret_error = g_strdup("a route needs dest and device, and optionally gateway (strings)");
                return -EINVAL;
        }
        rt->is_default = strcmp(dest, "default") == 0;
        if (!rt->is_default && !parse_prefix(dest, &rt->dest)) {
                *ret_error = g_strdup_printf("route dest %s is neither default nor ADDRESS/PREFIXLEN", dest);
                return -EINVAL;
        }
        if (gw) {
                if (!parse_ip(gw, &rt->gateway) ||
                    (!rt->is_default && rt->gateway.family != rt->dest.family)) {
                        *ret_error = g_strdup_printf("route to %s: bad gateway %s", dest, gw);
                        return -EINVAL;
                }
                rt->has_gateway = true;
        } else if (rt->is_default) {
                *ret_error = g_strdup("a default route needs a gateway");
                return -EINVAL;
        }
        if (rt->is_default) {
                memset(&rt->dest, 0, sizeof(rt->dest));
                rt->dest.family = rt->gateway.family;
        }
        for (rt->iface = 0; rt->iface < c->n_ifaces; rt->iface++)
                if (strcmp(c->ifaces[rt->iface].name, dev) == 0)
                        return 0;
        *ret_error = g_strdup_printf("route to %s: device %s is not one of the interfaces", dest, dev);
        return -EINVAL;
}

static int parse_config(JsonObject *req, NetConfig *c, char **ret_error) {
        JsonArray *ifaces = NULL, *routes = NULL;
        int r;

        if (kc_json_get_array(req, "interfaces", MAX_INTERFACES, false, &ifaces) < 0 ||
            kc_json_get_array(req, "routes", MAX_ROUTES, false, &routes) < 0) {
                *ret_error =
                        g_strdup_printf("interfaces (at most %d) and routes (at most %d) must be arrays",
                                        MAX_INTERFACES, MAX_ROUTES);
                return -EINVAL;
        }
        for (guint i = 0; ifaces && i < json_array_get_length(ifaces); i++) {
                NetIface *f = &c->ifaces[c->n_ifaces];

                r = parse_iface(json_array_get_element(ifaces, i), f, ret_error);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < c->n_ifaces; j++)
                        if (strcmp(c->ifaces[j].name, f->name) == 0 ||
                            g_ascii_strcasecmp(c->ifaces[j].mac, f->mac) == 0) {
                                *ret_error = g_strdup_printf("interface %s (%s) is listed twice", f->name,
                                                             f->mac);
                                return -EINVAL;
                        }
                c->n_ifaces++;
        }
        for (guint i = 0; routes && i < json_array_get_length(routes); i++) {
                r = parse_route(c, json_array_get_element(routes, i), &c->routes[c->n_routes], ret_error);
                if (r < 0)
                        return r;
                c->n_routes++;
        }
        return 0;
}

/* Sends one rtnetlink request and returns its acknowledgement's error (0 or -errno). */
static int nl_transact(int fd, struct nlmsghdr *h) {
        static uint32_t seq;
        char buf[4096];
        ssize_t n;

        h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
        h->nlmsg_seq = ++seq;
        if (send(fd, h, h->nlmsg_len, 0) < 0)
                return -errno;
        for (;;) {
                n = recv(fd, buf, sizeof(buf), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                for (struct nlmsghdr *m = (struct nlmsghdr *) buf; NLMSG_OK(m, (size_t) n);
                     m = NLMSG_NEXT(m, n))
                        if (m->nlmsg_seq == seq && m->nlmsg_type == NLMSG_ERROR)
                                return ((struct nlmsgerr *) NLMSG_DATA(m))->error;
        }
}

typedef struct NlReq {
        struct nlmsghdr h;
        union {
                struct ifaddrmsg a;
                struct rtmsg r;
        };
        char attrs[256];
} NlReq;

static void nl_attr(NlReq *q, unsigned short type, const void *data, size_t len) {
        struct rtattr *a = (struct rtattr *) ((char *) q + NLMSG_ALIGN(q->h.nlmsg_len));

        g_assert(NLMSG_ALIGN(q->h.nlmsg_len) + RTA_SPACE(len) <= sizeof(*q));
        a->rta_type = type;
        a->rta_len = (unsigned short) RTA_LENGTH(len);
        memcpy(RTA_DATA(a), data, len);
        q->h.nlmsg_len = NLMSG_ALIGN(q->h.nlmsg_len) + RTA_SPACE(len);
}

static size_t addr_size(int family) {
        return family == AF_INET ? 4 : 16;
}

static int add_address(int nl, unsigned index, const Prefix *p) {
        NlReq q = {0};
        uint32_t flags = IFA_F_NODAD;

        q.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
        q.h.nlmsg_type = RTM_NEWADDR;
        q.h.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
        q.a.ifa_family = (unsigned char) p->family;
        q.a.ifa_prefixlen = (unsigned char) p->len;
        q.a.ifa_index = index;
        nl_attr(&q, IFA_LOCAL, p->addr, addr_size(p->family));
        nl_attr(&q, IFA_ADDRESS, p->addr, addr_size(p->family));
        if (p->family == AF_INET6)
                nl_attr(&q, IFA_FLAGS, &flags, sizeof(flags));
        return nl_transact(nl, &q.h);
}

static int add_route(int nl, const NetRoute *rt, unsigned index) {
        NlReq q = {0};
        uint32_t oif = index;

        q.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
        q.h.nlmsg_type = RTM_NEWROUTE;
        q.h.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
        q.r.rtm_family = (unsigned char) rt->dest.family;
        q.r.rtm_dst_len = (unsigned char) (rt->is_default ? 0 : rt->dest.len);
        q.r.rtm_table = RT_TABLE_MAIN;
        q.r.rtm_protocol = RTPROT_BOOT;
        q.r.rtm_scope = rt->has_gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
        q.r.rtm_type = RTN_UNICAST;
        if (!rt->is_default)
                nl_attr(&q, RTA_DST, rt->dest.addr, addr_size(rt->dest.family));
        if (rt->has_gateway)
                nl_attr(&q, RTA_GATEWAY, rt->gateway.addr, addr_size(rt->gateway.family));
        nl_attr(&q, RTA_OIF, &oif, sizeof(oif));
        return nl_transact(nl, &q.h);
}

/* The guest's interface with this MAC (the virtio-net driver may still be probing: wait for it). */
static int find_by_mac(const char *mac, char ret_name[IFNAMSIZ]) {
        for (int waited = 0; waited <= NIC_WAIT_MS; waited += 50) {
                g_autoptr(GDir) d = g_dir_open("/sys/class/net", 0, NULL);
                const char *e;

                while (d && (e = g_dir_read_name(d))) {
                        g_autofree char *path = g_strdup_printf("/sys/class/net/%s/address", e),
                                        *text = NULL;

                        if (g_file_get_contents(path, &text, NULL, NULL) &&
                            g_ascii_strncasecmp(g_strstrip(text), mac, 17) == 0 && strlen(text) == 17) {
                                g_strlcpy(ret_name, e, IFNAMSIZ);
                                return 0;
                        }
                }
                g_usleep(50 * 1000);
        }
        return -ENODEV;
}

static int link_ioctl(int s, const char *name, unsigned long req, struct ifreq *ifr) {
        g_strlcpy(ifr->ifr_name, name, IFNAMSIZ);
        return ioctl(s, req, ifr) < 0 ? -errno : 0;
}

static int set_up(int s, const char *name) {
        struct ifreq ifr = {0};
        int r = link_ioctl(s, name, SIOCGIFFLAGS, &ifr);

        if (r < 0)
                return r;
        ifr.ifr_flags |= IFF_UP;
        return link_ioctl(s, name, SIOCSIFFLAGS, &ifr);
}

static int configure_iface(int s, int nl, NetIface *f, char **ret_error) {
        char cur[IFNAMSIZ];
        struct ifreq ifr = {0};
        int r;

        r = find_by_mac(f->mac, cur);
        if (r < 0) {
                *ret_error =
                        g_strdup_printf("no network device with MAC %s in the guest (virtio_net missing "
                                        "from the image?)",
                                        f->mac);
                return r;
        }
        if (strcmp(cur, f->name) != 0) {
                g_strlcpy(ifr.ifr_newname, f->name, IFNAMSIZ);
                r = link_ioctl(s, cur, SIOCSIFNAME, &ifr);
                if (r < 0)
                        log_warning("Cannot rename %s to %s: %s; keeping %s", cur, f->name, g_strerror(-r),
                                    cur);
                else
                        g_strlcpy(cur, f->name, IFNAMSIZ);
        }
        f->index = if_nametoindex(cur);
        ifr = (struct ifreq){.ifr_mtu = (int) f->mtu};
        if (f->index == 0 || (r = link_ioctl(s, cur, SIOCSIFMTU, &ifr)) < 0) {
                *ret_error = g_strdup_printf("%s: cannot set MTU %u: %s", cur, f->mtu,
                                             g_strerror(f->index ? -r : errno));
                return -EIO;
        }
        for (size_t i = 0; i < f->n_addrs; i++) {
                r = add_address(nl, f->index, &f->addrs[i]);
                if (r < 0) {
                        char text[INET6_ADDRSTRLEN] = "";
                        inet_ntop(f->addrs[i].family, f->addrs[i].addr, text, sizeof(text));
                        *ret_error = g_strdup_printf("%s: cannot add address %s/%u: %s", cur, text,
                                                     f->addrs[i].len, g_strerror(-r));
                        return r;
                }
        }
        r = set_up(s, cur);
        if (r < 0) {
                *ret_error = g_strdup_printf("%s: cannot bring the link up: %s", cur, g_strerror(-r));
                return r;
        }
        log_info("Network: %s (%s) MTU %u, %zu addresses", cur, f->mac, f->mtu, f->n_addrs);
        return 0;
}

int network_configure(JsonObject *req, bool apply, char **ret_error) {
        g_autofree NetConfig *c = g_new0(NetConfig, 1);
        _cleanup_close_ int s = -EBADF, nl = -EBADF;
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
        int r;

        r = parse_config(req, c, ret_error);
        if (r < 0 || !apply)
                return r;
        if (c->n_ifaces > 0)
                modules_load_group("net");
        s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (s < 0 || nl < 0 || bind(nl, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                *ret_error = g_strdup_printf("cannot open network sockets: %s", g_strerror(errno));
                return -errno;
        }
        r = set_up(s, "lo");
        if (r < 0)
                log_warning("Cannot bring lo up: %s", g_strerror(-r));
        for (size_t i = 0; i < c->n_ifaces; i++) {
                r = configure_iface(s, nl, &c->ifaces[i], ret_error);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < c->n_routes; i++) {
                NetRoute *rt = &c->routes[i];

                r = add_route(nl, rt, c->ifaces[rt->iface].index);
                if (r < 0) {
                        char d[INET6_ADDRSTRLEN] = "default";
                        if (!rt->is_default)
                                inet_ntop(rt->dest.family, rt->dest.addr, d, sizeof(d));
                        *ret_error = g_strdup_printf("cannot add the route to %s via %s: %s", d,
                                                     c->ifaces[rt->iface].name, g_strerror(-r));
                        return r;
                }
        }
        return 0;
}
