/* clatd's fast data path: a stateless IPv4/IPv6 translator (RFC 7915) for the CLAT side of
 * 464XLAT (RFC 6877), as two tc (clsact) programs.
 *
 * - clat_egress, on the CLAT device (the tun TAYGA serves): an IPv4 packet from the CLAT
 *   address becomes IPv6 from the CLAT IPv6 address to the PLAT prefix (RFC 6052), and is
 *   redirected to the uplink with bpf_redirect_neigh(). The tun has no link-layer header and
 *   the uplink usually has one, so the kernel must resolve the IPv6 next hop and build the
 *   header: bpf_redirect() alone would drop the packet (it wants a MAC header when the target
 *   has one), and so would a bpf_fib_lookup() of our own duplicate the kernel's neighbour
 *   handling (queueing while ND runs, NUD). The neighbour lookup routes the
 *   translated packet's destination with the uplink as preferred output device; the agent
 *   chose that uplink from the same route lookup towards the PLAT prefix, so both agree.
 * - clat_ingress, on the uplink: IPv6 from the PLAT prefix to the CLAT IPv6 address becomes
 *   IPv4 and is redirected into the CLAT device's ingress, where local sockets receive it.
 *
 * Only the common case is translated here: TCP, UDP with a checksum and ICMP echo, no IPv4
 * options, no fragments, no IPv6 extension headers. Everything else returns TC_ACT_OK and
 * continues on the normal path, which ends in TAYGA on the tun: TAYGA stays the per-packet
 * slow path, so whatever it handles still works. The header is rewritten with
 * bpf_skb_change_proto(), which also converts GSO super-packets, and the L4 checksums are
 * updated incrementally (RFC 1624) for the changed pseudo-header. */

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>

/* After linux/bpf.h, which defines the types they use. */
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "clat_bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Two configuration generations; clat_active names the one in force (see clat_bpf.h). */
struct clat_config clat_cfg[2];
__u32 clat_active;

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, CLAT_COUNTER_COUNT);
    __type(key, __u32);
    __type(value, __u64);
} clat_counters SEC(".maps");

/* Headers spelled out with whole bytes, so that no bit-field order is involved. */
struct ip4_header {
    __u8 ver_ihl;
    __u8 tos;
    __be16 tot_len;
    __be16 id;
    __be16 frag_off;
    __u8 ttl;
    __u8 protocol;
    __sum16 check;
    __be32 saddr;
    __be32 daddr;
};

struct ip6_header {
    __be32 ver_tc_flow;
    __be16 payload_len;
    __u8 nexthdr;
    __u8 hop_limit;
    __u8 saddr[16];
    __u8 daddr[16];
};

/* The ICMPv6 pseudo-header (RFC 8200 §8.1); ICMPv4 has none. */
struct ip6_pseudo {
    __u8 saddr[16];
    __u8 daddr[16];
    __be32 length;
    __be32 nexthdr;
};

#define IP4_DF 0x4000
#define IP4_MF 0x2000
#define IP4_OFFSET 0x1fff
#define IPV6_MIN_MTU 1280
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129
#define PROTO_ICMP6 58

static __always_inline const struct clat_config* active_config(void) {
    return &clat_cfg[clat_active & 1];
}

static __always_inline void count(__u32 slot, __u64 n) {
    __u64* value = bpf_map_lookup_elem(&clat_counters, &slot);
    if (value)
        *value += n;
}

/* The packet continues untranslated on the normal path (to TAYGA). */
static __always_inline int leave(__u32 reason) {
    count(reason, 1);
    return TC_ACT_OK;
}

/* A helper failed after the packet was changed: it can go nowhere. */
static __always_inline int drop(__u32 reason) {
    count(reason, 1);
    return TC_ACT_SHOT;
}

static __always_inline void count_passed(struct __sk_buff* skb, __u32 packets, __u32 bytes) {
    count(packets, skb->gso_segs > 1 ? skb->gso_segs : 1);
    count(bytes, skb->len);
}

static __always_inline __u16 fold(__s64 sum) {
    __u32 s = (__u32)sum;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (__u16)~s;
}

/* Addresses a CLAT never translates: "this network", loopback, multicast, reserved and the
 * limited broadcast; with the well-known prefix also the non-global ranges RFC 6052 §3.1
 * forbids (TAYGA refuses them too, and answers with an ICMP error). */
static __always_inline int v4_untranslatable(__be32 address, __u8 well_known) {
    const __u32 a = bpf_ntohl(address);
    const __u32 first = a >> 24;
    if (first == 0 || first == 127 || first >= 224)
        return 1;
    if (!well_known)
        return 0;
    return first == 10 || (a & 0xfff00000) == 0xac100000 || (a & 0xffff0000) == 0xc0a80000 ||
           (a & 0xffc00000) == 0x64400000 || (a & 0xffff0000) == 0xa9fe0000 ||
           (a & 0xffffff00) == 0xc0000000 || (a & 0xffffff00) == 0xc0000200 ||
           (a & 0xfffe0000) == 0xc6120000 || (a & 0xffffff00) == 0xc6336400 ||
           (a & 0xffffff00) == 0xcb007100;
}

/* RFC 6052 §2.2: where the four octets of the IPv4 address sit in an IPv6 address under a
 * prefix of prefix_len bits: right after the prefix, skipping bits 64..71 (the u octet). */
static __always_inline __u32 v4_first_octet(__u8 prefix_len) {
    return prefix_len == 32 || prefix_len == 40 || prefix_len == 48 || prefix_len == 56
               ? prefix_len / 8
               : (prefix_len == 64 ? 9 : 12);
}

static __always_inline __u32 v4_octet(__u32 first, int i) {
    const __u32 at = first + i;
    return at >= 8 && first < 8 ? at + 1 : at;
}

static __always_inline void embed(const struct clat_config* c, __be32 v4, __u8 out[16]) {
    const __u8* b = (const __u8*)&v4;
    const __u32 first = v4_first_octet(c->prefix_len);
    __builtin_memcpy(out, c->prefix, 16);
#pragma unroll
    for (int i = 0; i < 4; i++)
        out[v4_octet(first, i) & 15] = b[i];
}

static __always_inline int same16(const __u8* a, const __u8* b) {
    int differ = 0;
#pragma unroll
    for (int i = 0; i < 16; i++)
        differ |= a[i] ^ b[i];
    return differ == 0;
}

/* The IPv4 address embedded in address, if address is exactly what embed() makes of it
 * (the prefix, a zero u octet and a zero suffix). */
static __always_inline int extract(const struct clat_config* c, const __u8 address[16],
                                   __be32* v4) {
    __u8 b[4];
    const __u32 first = v4_first_octet(c->prefix_len);
#pragma unroll
    for (int i = 0; i < 4; i++)
        b[i] = address[v4_octet(first, i) & 15];
    __builtin_memcpy(v4, b, 4);
    __u8 expected[16];
    embed(c, *v4, expected);
    return same16(expected, address);
}

/* Type and code of an ICMP echo in the other family; 0 when not an echo. */
static __always_inline __u8 echo_type_4to6(__u8 type) {
    return type == ICMP_ECHO_REQUEST ? ICMP6_ECHO_REQUEST
                                     : (type == ICMP_ECHO_REPLY ? ICMP6_ECHO_REPLY : 0);
}

static __always_inline int echo_type_6to4(__u8 type, __u8* out) {
    if (type == ICMP6_ECHO_REQUEST)
        *out = ICMP_ECHO_REQUEST;
    else if (type == ICMP6_ECHO_REPLY)
        *out = ICMP_ECHO_REPLY;
    else
        return 0;
    return 1;
}

/* The L4 part of a translation: where the checksum sits and how it changes. For TCP and UDP
 * only the addresses of the pseudo-header differ between the families; ICMP gains (4→6) or
 * loses (6→4) the whole pseudo-header and changes its type. */
struct l4_fix {
    __u8 protocol; /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_ICMP/ICMPV6 of the result */
    __u8 check_offset;
    __u8 new_type;
    __be16 old_word; /* ICMP type and code before and after */
    __be16 new_word;
    __s64 pseudo_diff;
};

static __always_inline int apply_l4_fix(struct __sk_buff* skb, __u32 l4, const struct l4_fix* f) {
    const __u32 at = l4 + f->check_offset;
    if (f->protocol == IPPROTO_TCP)
        return bpf_l4_csum_replace(skb, at, 0, f->pseudo_diff, BPF_F_PSEUDO_HDR);
    if (f->protocol == IPPROTO_UDP)
        return bpf_l4_csum_replace(skb, at, 0, f->pseudo_diff,
                                   BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0);
    /* ICMP: the type byte and its share of the checksum, then the pseudo-header. */
    if (bpf_skb_store_bytes(skb, l4, &f->new_word, 2, 0))
        return -1;
    if (bpf_l4_csum_replace(skb, at, f->old_word, f->new_word, 2))
        return -1;
    return bpf_l4_csum_replace(skb, at, 0, f->pseudo_diff, BPF_F_PSEUDO_HDR);
}

/* IPv4 → IPv6 (RFC 7915 §4) on the CLAT device's egress. */
SEC("tc")
int clat_egress(struct __sk_buff* skb) {
    const struct clat_config* c = active_config();
    if (!c->enabled || skb->protocol != bpf_htons(ETH_P_IP))
        return TC_ACT_OK;
    struct ip4_header ip4;
    if (bpf_skb_load_bytes(skb, 0, &ip4, sizeof(ip4)) || (ip4.ver_ihl >> 4) != 4)
        return TC_ACT_OK;
    if (ip4.saddr != c->clat_v4 || ip4.daddr == c->tayga_v4 ||
        v4_untranslatable(ip4.daddr, c->well_known))
        return leave(CLAT_LEFT_ADDRESS);
    if ((ip4.ver_ihl & 0xf) != 5)
        return leave(CLAT_LEFT_OPTIONS);
    if (ip4.frag_off & bpf_htons(IP4_MF | IP4_OFFSET))
        return leave(CLAT_LEFT_FRAGMENT);
    if (ip4.ttl <= 1)
        return leave(CLAT_LEFT_TTL);
    const __u32 total = bpf_ntohs(ip4.tot_len);
    if (total < sizeof(ip4))
        return TC_ACT_OK;
    const __u32 payload = total - sizeof(ip4);
    /* DF clear and too big for the IPv6 minimum MTU: RFC 7915 §4 wants IPv6 fragments,
     * which TAYGA makes. */
    if (!(ip4.frag_off & bpf_htons(IP4_DF)) && payload + sizeof(struct ip6_header) > IPV6_MIN_MTU)
        return leave(CLAT_LEFT_SIZE);

    struct ip6_header ip6 = {};
    ip6.ver_tc_flow = bpf_htonl(0x60000000 | ((__u32)ip4.tos << 20));
    ip6.payload_len = bpf_htons(payload);
    ip6.hop_limit = ip4.ttl - 1; /* the translator is a router hop, as TAYGA */
    __builtin_memcpy(ip6.saddr, c->clat_v6, 16);
    embed(c, ip4.daddr, ip6.daddr);

    struct l4_fix fix = {.protocol = ip4.protocol};
    if (ip4.protocol == IPPROTO_TCP || ip4.protocol == IPPROTO_UDP) {
        __be16 check = 0;
        fix.check_offset = ip4.protocol == IPPROTO_TCP ? 16 : 6;
        if (payload < (ip4.protocol == IPPROTO_TCP ? 20u : 8u) ||
            bpf_skb_load_bytes(skb, sizeof(ip4) + fix.check_offset, &check, 2))
            return leave(CLAT_LEFT_PROTOCOL);
        if (ip4.protocol == IPPROTO_UDP && check == 0)
            return leave(CLAT_LEFT_UDP_ZERO);
        fix.pseudo_diff = bpf_csum_diff(&ip4.saddr, 8, (__be32*)ip6.saddr, 32, 0);
        ip6.nexthdr = ip4.protocol;
    } else if (ip4.protocol == IPPROTO_ICMP) {
        __u8 type_code[2];
        if (payload < 8 || bpf_skb_load_bytes(skb, sizeof(ip4), type_code, 2))
            return leave(CLAT_LEFT_PROTOCOL);
        const __u8 type = echo_type_4to6(type_code[0]);
        if (!type)
            return leave(CLAT_LEFT_ICMP);
        fix.check_offset = 2;
        fix.old_word = bpf_htons(((__u16)type_code[0] << 8) | type_code[1]);
        fix.new_word = bpf_htons(((__u16)type << 8) | type_code[1]);
        struct ip6_pseudo ph = {};
        __builtin_memcpy(ph.saddr, ip6.saddr, 16);
        __builtin_memcpy(ph.daddr, ip6.daddr, 16);
        ph.length = bpf_htonl(payload);
        ph.nexthdr = bpf_htonl(PROTO_ICMP6);
        fix.pseudo_diff = bpf_csum_diff(0, 0, (__be32*)&ph, sizeof(ph), 0);
        ip6.nexthdr = PROTO_ICMP6;
    } else {
        return leave(CLAT_LEFT_PROTOCOL);
    }

    /* Fails before it changes anything (e.g. a GSO type it cannot convert): TAYGA then. */
    if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 0))
        return leave(CLAT_LEFT_UNSUPPORTED);
    if (bpf_skb_store_bytes(skb, 0, &ip6, sizeof(ip6), 0) || apply_l4_fix(skb, sizeof(ip6), &fix))
        return drop(CLAT_DROP_STORE);
    count_passed(skb, CLAT_EGRESS_PACKETS, CLAT_EGRESS_BYTES);
    /* bpf_redirect_neigh() expects a packet with a MAC header in front (it checks for one
     * and pulls 14 bytes before it routes and resolves): give the tun's L3 packet a blank
     * one, as bpf_skb_change_head() is meant for. The neighbour code writes the real one. */
    if (bpf_skb_change_head(skb, ETH_HLEN, 0))
        return drop(CLAT_DROP_STORE);
    return bpf_redirect_neigh(c->uplink_ifindex, 0, 0, 0);
}

/* IPv6 → IPv4 (RFC 7915 §5) on the uplink's ingress. */
SEC("tc")
int clat_ingress(struct __sk_buff* skb) {
    const struct clat_config* c = active_config();
    if (!c->enabled || skb->protocol != bpf_htons(ETH_P_IPV6))
        return TC_ACT_OK;
    const __u32 l2 = c->uplink_l2_len == ETH_HLEN ? ETH_HLEN : 0;
    struct ip6_header ip6;
    if (bpf_skb_load_bytes(skb, l2, &ip6, sizeof(ip6)) || (bpf_ntohl(ip6.ver_tc_flow) >> 28) != 6)
        return TC_ACT_OK;
    if (!same16(ip6.daddr, c->clat_v6))
        return TC_ACT_OK; /* not for the CLAT: not ours to count */
    __be32 source;
    if (!extract(c, ip6.saddr, &source) || v4_untranslatable(source, c->well_known))
        return leave(CLAT_LEFT_ADDRESS);
    if (l2 && skb->pkt_type != PACKET_HOST)
        return leave(CLAT_LEFT_ADDRESS);
    if (ip6.hop_limit <= 1)
        return leave(CLAT_LEFT_TTL);
    const __u32 payload = bpf_ntohs(ip6.payload_len);
    const __u32 l4_old = l2 + sizeof(ip6);

    struct ip4_header ip4 = {};
    ip4.ver_ihl = 0x45;
    ip4.tos = (bpf_ntohl(ip6.ver_tc_flow) >> 20) & 0xff;
    ip4.tot_len = bpf_htons(payload + sizeof(ip4));
    ip4.frag_off = bpf_htons(IP4_DF);
    ip4.ttl = ip6.hop_limit - 1;
    ip4.saddr = source;
    ip4.daddr = c->clat_v4;

    struct l4_fix fix = {.protocol = ip6.nexthdr};
    if (ip6.nexthdr == IPPROTO_TCP || ip6.nexthdr == IPPROTO_UDP) {
        __be16 check = 0;
        fix.check_offset = ip6.nexthdr == IPPROTO_TCP ? 16 : 6;
        if (payload < (ip6.nexthdr == IPPROTO_TCP ? 20u : 8u) ||
            bpf_skb_load_bytes(skb, l4_old + fix.check_offset, &check, 2))
            return leave(CLAT_LEFT_PROTOCOL);
        if (ip6.nexthdr == IPPROTO_UDP && check == 0)
            return leave(CLAT_LEFT_UDP_ZERO); /* invalid in IPv6; TAYGA drops it */
        ip4.protocol = ip6.nexthdr;
        fix.pseudo_diff = bpf_csum_diff((__be32*)ip6.saddr, 32, &ip4.saddr, 8, 0);
    } else if (ip6.nexthdr == PROTO_ICMP6) {
        __u8 type_code[2];
        __u8 type = 0;
        if (payload < 8 || bpf_skb_load_bytes(skb, l4_old, type_code, 2))
            return leave(CLAT_LEFT_PROTOCOL);
        if (!echo_type_6to4(type_code[0], &type))
            return leave(CLAT_LEFT_ICMP);
        ip4.protocol = IPPROTO_ICMP;
        fix.protocol = IPPROTO_ICMP;
        fix.check_offset = 2;
        fix.old_word = bpf_htons(((__u16)type_code[0] << 8) | type_code[1]);
        fix.new_word = bpf_htons(((__u16)type << 8) | type_code[1]);
        struct ip6_pseudo ph = {};
        __builtin_memcpy(ph.saddr, ip6.saddr, 16);
        __builtin_memcpy(ph.daddr, ip6.daddr, 16);
        ph.length = bpf_htonl(payload);
        ph.nexthdr = bpf_htonl(PROTO_ICMP6);
        fix.pseudo_diff = bpf_csum_diff((__be32*)&ph, sizeof(ph), 0, 0, 0);
    } else if (ip6.nexthdr == 0 || ip6.nexthdr == 43 || ip6.nexthdr == 44 || ip6.nexthdr == 60) {
        return leave(CLAT_LEFT_FRAGMENT);
    } else {
        return leave(CLAT_LEFT_PROTOCOL);
    }
    ip4.check = fold(bpf_csum_diff(0, 0, (__be32*)&ip4, sizeof(ip4), 0));

    if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IP), 0))
        return leave(CLAT_LEFT_UNSUPPORTED);
    /* BPF_F_RECOMPUTE_CSUM keeps skb->csum right for CHECKSUM_COMPLETE receivers. */
    if (bpf_skb_store_bytes(skb, l2, &ip4, sizeof(ip4), BPF_F_RECOMPUTE_CSUM))
        return drop(CLAT_DROP_STORE);
    if (l2) {
        const __be16 ethertype = bpf_htons(ETH_P_IP);
        if (bpf_skb_store_bytes(skb, 12, &ethertype, 2, 0))
            return drop(CLAT_DROP_STORE);
    }
    if (apply_l4_fix(skb, l2 + sizeof(ip4), &fix))
        return drop(CLAT_DROP_STORE);
    count_passed(skb, CLAT_INGRESS_PACKETS, CLAT_INGRESS_BYTES);
    return bpf_redirect(c->clat_ifindex, BPF_F_INGRESS);
}
