/* The IP-layer names of `set` (ttl, tos, broadcast, v6only, reuseport,
 * bindtodevice, mcast-join), kept apart from cmd_sock.c's table of socket
 * options: cmd__exec_set hands over a name it does not know. */
#include "cmd_int.h"

#include <stdio.h>
#include <string.h>

#include "sockpit/engine/engine.h"

static const struct {
    const char *name;
    int kind; /* 'n' number 0..255, 'b' on/off, 'd' device, 'g' group */
    enum sp_ipopt opt;
} ipopts[] = {
    {"ttl", 'n', SP_IPOPT_TTL},
    {"tos", 'n', SP_IPOPT_TOS},
    {"broadcast", 'b', SP_IPOPT_BROADCAST},
    {"v6only", 'b', SP_IPOPT_V6ONLY},
    {"reuseport", 'b', SP_IPOPT_REUSEPORT},
    {"bindtodevice", 'd', 0},
    {"mcast-join", 'g', 0},
};

int cmd__is_ipopt(const struct cmd_word *name)
{
    for (size_t k = 0; k < sizeof ipopts / sizeof ipopts[0]; k++)
        if (cmd__is(name, ipopts[k].name))
            return 1;
    return 0;
}

/* IFACE names as the kernel takes them (IFNAMSIZ, no '/' or spaces). */
static int ifname_ok(const char *s, size_t len)
{
    if (len == 0 || len >= 16)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '/' || s[i] == ' ' || s[i] == ':' || (unsigned char)s[i] < 0x21)
            return 0;
    return 1;
}

/* bindtodevice IFACE|off: the name, "" for off. Returns 0 or CMD_FAIL. */
static int device_arg(struct cmd_ctx *c, const struct cmd_word *val, char *dev, size_t len)
{
    dev[0] = '\0';
    if (cmd__is(val, "off"))
        return 0;
    if (!ifname_ok(val->s, val->len) || val->len >= len)
        return cmd__fail(c, val, 0, "bindtodevice wants an interface name (or off)");
    memcpy(dev, val->s, val->len + 1);
    return 0;
}

/* mcast-join GROUP or GROUP%IFACE. Returns 0 or CMD_FAIL. */
static int group_arg(struct cmd_ctx *c, const struct cmd_word *val, char *group, size_t glen,
                     char *ifname, size_t ilen)
{
    const char *pct = memchr(val->s, '%', val->len);
    size_t gl = pct != NULL ? (size_t)(pct - val->s) : val->len;
    if (gl == 0 || gl >= glen)
        return cmd__fail(c, val, 0, "mcast-join wants a group address (GROUP or GROUP%%IFACE)");
    memcpy(group, val->s, gl);
    group[gl] = '\0';
    ifname[0] = '\0';
    if (pct != NULL) {
        size_t il = val->len - gl - 1;
        if (!ifname_ok(pct + 1, il) || il >= ilen)
            return cmd__fail(c, val, gl + 1, "not an interface name");
        memcpy(ifname, pct + 1, il);
        ifname[il] = '\0';
    }
    return 0;
}

/* on/off or a number 0..255 (ttl 1..255). Returns 0 or CMD_FAIL. */
static int value_arg(struct cmd_ctx *c, const struct cmd_word *val, int kind, enum sp_ipopt opt,
                     long *value)
{
    if (kind == 'b') {
        if (cmd__is(val, "on") || cmd__is(val, "1"))
            *value = 1;
        else if (cmd__is(val, "off") || cmd__is(val, "0"))
            *value = 0;
        else
            return cmd__fail(c, val, 0, "expected on or off");
        return 0;
    }
    uint64_t v;
    if (cmd__number(c, val, opt == SP_IPOPT_TTL ? 1 : 0, 255, 0, &v) != 0)
        return CMD_FAIL;
    *value = (long)v;
    return 0;
}

int cmd__set_ipopt(struct cmd_ctx *c, uint32_t id, const struct cmd_word *name,
                   const struct cmd_word *val)
{
    size_t k = 0;
    while (!cmd__is(name, ipopts[k].name))
        k++;
    char err[256] = "", a[64], b[16];
    long value = 0;
    int kind = ipopts[k].kind, r;
    /* Every word is checked before the engine is called. */
    if (kind == 'd')
        r = device_arg(c, val, b, sizeof b);
    else if (kind == 'g')
        r = group_arg(c, val, a, sizeof a, b, sizeof b);
    else
        r = value_arg(c, val, kind, ipopts[k].opt, &value);
    if (r != 0)
        return CMD_FAIL;
    if (kind == 'd')
        r = sp_engine_set_device(c->eng, id, b, err, sizeof err);
    else if (kind == 'g')
        r = sp_engine_mcast_join(c->eng, id, a, strchr(val->s, '%') ? b : NULL, err, sizeof err);
    else
        r = sp_engine_set_ipopt(c->eng, id, ipopts[k].opt, value, err, sizeof err);
    if (r != 0)
        return cmd__fail(c, NULL, 0, "%s", err[0] ? err : "refused");
    return CMD_OK;
}
