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
 * Translated here: TCP, UDP with a checksum, ICMP echo, and ICMP errors (Destination
 * Unreachable, Time Exceeded, Parameter Problem, Packet Too Big <-> Fragmentation Needed) with
 * their embedded IPv4/IPv6 header and the first bytes of its TCP, UDP or ICMP echo header
 * (RFC 7915 §4.2, §4.3, §5.2, §5.3); no IPv4 options, no fragments, no IPv6 extension headers.
 * ICMPv6 errors from an IPv6-only router on the path (a source outside the PLAT prefix) about
 * a CLAT packet get the IPv4 source 192.0.0.8 (draft-ietf-v6ops-icmpext-xlat-v6only-source),
 * so that traceroute shows the hop. Everything else returns TC_ACT_OK and continues on the
 * normal path, which ends in TAYGA on the tun: TAYGA stays the per-packet slow path, so
 * whatever it handles still works. The header is rewritten with bpf_skb_change_proto(), which
 * also converts GSO super-packets, and the L4 checksums are updated incrementally (RFC 1624)
 * for the changed pseudo-header. An ICMP error also grows (4→6) or shrinks (6→4) by 20 bytes
 * inside, for its embedded header (bpf_skb_adjust_room at the network layer); its checksum is
 * updated for exactly the bytes that change, since the rest of the message only moves by an
 * even number of bytes. */

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

/* An ICMP header: type, code, checksum and the 4 bytes whose meaning depends on the type. */
struct icmp_header {
    __u8 type;
    __u8 code;
    __sum16 check;
    __u8 rest[4];
};

/* What translating an ICMP error changes: its header, the embedded IP header and the first
 * 8 bytes of the embedded transport header (ports and UDP checksum, or an echo's type and
 * checksum), which every ICMP error carries (RFC 792, RFC 4443 §2.4). */
struct icmp4_error {
    struct icmp_header icmp;
    struct ip4_header ip;
    __u8 l4[8];
};

struct icmp6_error {
    struct icmp_header icmp;
    struct ip6_header ip;
    __u8 l4[8];
};

_Static_assert(sizeof(struct icmp4_error) == 36, "icmp4_error layout");
_Static_assert(sizeof(struct icmp6_error) == 56, "icmp6_error layout");

#define IP4_DF 0x4000
#define IP4_MF 0x2000
#define IP4_OFFSET 0x1fff
#define IPV6_MIN_MTU 1280
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129
#define PROTO_ICMP6 58
#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETER_PROBLEM 12
#define ICMP6_DEST_UNREACH 1
#define ICMP6_PACKET_TOO_BIG 2
#define ICMP6_TIME_EXCEEDED 3
#define ICMP6_PARAMETER_PROBLEM 4
/* 192.0.0.8, the IPv4 dummy address (RFC 7600): the source of a translated ICMPv6 error from
 * an IPv6-only node (draft-ietf-v6ops-icmpext-xlat-v6only-source). */
#define IPV4_DUMMY 0xc0000008

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

static __always_inline __u64 load_be64(const __u8* p) {
    __u64 v;
    __builtin_memcpy(&v, p, 8);
    return bpf_be64_to_cpu(v);
}

static __always_inline void store_be64(__u8* p, __u64 v) {
    v = bpf_cpu_to_be64(v);
    __builtin_memcpy(p, &v, 8);
}

/* RFC 6052 §2.2 on the IPv6 address as two 64-bit halves: the 32 bits of the IPv4 address
 * follow the prefix, skipping bits 64..71 (the u octet). For /32../56 the first prefix_len-32
 * of them end the high half and the rest start the low half after the u octet. Done with
 * shifts, not with an index that depends on the prefix length: a variable offset into the
 * stack is refused to a loader without CAP_PERFMON. */
static __always_inline int splits(__u32 prefix_len) {
    return prefix_len == 32 || prefix_len == 40 || prefix_len == 48 || prefix_len == 56;
}

static __always_inline void embed(const struct clat_config* c, __be32 v4, __u8 out[16]) {
    const __u64 v = bpf_ntohl(v4);
    const __u32 len = c->prefix_len;
    __u64 hi = load_be64(c->prefix);
    __u64 lo = load_be64(c->prefix + 8);
    if (splits(len)) {
        const __u32 low_bits = len - 32; /* 0, 8, 16 or 24 */
        hi |= v >> low_bits;
        lo |= (v & ((1ULL << low_bits) - 1)) << (56 - low_bits);
    } else if (len == 64) {
        lo |= v << 24;
    } else {
        lo |= v;
    }
    store_be64(out, hi);
    store_be64(out + 8, lo);
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
    const __u32 len = c->prefix_len;
    const __u64 hi = load_be64(address);
    const __u64 lo = load_be64(address + 8);
    __u64 v;
    if (splits(len)) {
        const __u32 low_bits = len - 32;
        v = ((hi & ((1ULL << (32 - low_bits)) - 1)) << low_bits) |
            ((lo >> (56 - low_bits)) & ((1ULL << low_bits) - 1));
    } else if (len == 64) {
        v = lo >> 24;
    } else {
        v = lo;
    }
    *v4 = bpf_htonl((__u32)v);
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

/* The MTU of a device (bpf_check_mtu reports it whatever it answers); 0 when unknown. */
static __always_inline __u32 device_mtu(struct __sk_buff* skb, __u32 ifindex) {
    __u32 mtu = 0;
    bpf_check_mtu(skb, ifindex, &mtu, 0, 0);
    return mtu;
}

static __always_inline __u32 min_known(__u32 a, __u32 b) {
    return b != 0 && b < a ? b : a;
}

/* RFC 1191 §7: the greatest plateau below the length of the packet that was too big, for a
 * Fragmentation Needed from a router that gives no MTU. */
static __always_inline __u32 plateau_below(__u32 length) {
    if (length > 32000)
        return 32000;
    if (length > 17914)
        return 17914;
    if (length > 8166)
        return 8166;
    if (length > 4352)
        return 4352;
    if (length > 2002)
        return 2002;
    if (length > 1492)
        return 1492;
    if (length > 1006)
        return 1006;
    if (length > 508)
        return 508;
    if (length > 296)
        return 296;
    return 68;
}

/* RFC 7915 §4.2 Figure 3: where an ICMPv4 Parameter Problem pointer points in IPv6. */
static __always_inline int pointer_4to6(__u8 p, __u8* out) {
    if (p == 0 || p == 1)
        *out = p;
    else if (p == 2 || p == 3)
        *out = 4; /* Total Length -> Payload Length */
    else if (p == 8)
        *out = 7; /* TTL -> Hop Limit */
    else if (p == 9)
        *out = 6; /* Protocol -> Next Header */
    else if (p >= 12 && p <= 15)
        *out = 8; /* Source Address */
    else if (p >= 16 && p <= 19)
        *out = 24; /* Destination Address */
    else
        return 0; /* fields IPv6 does not have: the message is dropped */
    return 1;
}

/* RFC 7915 §5.2 Figure 6: where an ICMPv6 Parameter Problem pointer points in IPv4. */
static __always_inline int pointer_6to4(__u32 p, __u8* out) {
    if (p == 0 || p == 1)
        *out = p;
    else if (p == 4 || p == 5)
        *out = 2; /* Payload Length -> Total Length */
    else if (p == 6)
        *out = 9; /* Next Header -> Protocol */
    else if (p == 7)
        *out = 8; /* Hop Limit -> TTL */
    else if (p >= 8 && p <= 23)
        *out = 12;
    else if (p >= 24 && p <= 39)
        *out = 16;
    else
        return 0; /* the flow label or past the header */
    return 1;
}

/* RFC 7915 §4.2: the ICMPv6 header of an ICMPv4 error (checksum left 0); 0 when the RFC
 * drops the message or it carries RFC 4884 extensions (TAYGA decides then). inner_total is
 * the embedded packet's Total Length, for a Fragmentation Needed without an MTU. */
static __always_inline int error_header_4to6(struct __sk_buff* skb, const struct clat_config* c,
                                             const struct icmp_header* in, struct icmp_header* out,
                                             __u32 inner_total) {
    /* The RFC 4884 length of Destination Unreachable, Time Exceeded, Parameter Problem. */
    if (in->rest[1] != 0)
        return 0;
    if (in->type == ICMP_TIME_EXCEEDED) {
        out->type = ICMP6_TIME_EXCEEDED;
        out->code = in->code;
        return 1;
    }
    if (in->type == ICMP_PARAMETER_PROBLEM) {
        if (in->code != 0 && in->code != 2)
            return 0;
        out->type = ICMP6_PARAMETER_PROBLEM;
        out->code = 0;
        return pointer_4to6(in->rest[0], &out->rest[3]);
    }
    if (in->type != ICMP_DEST_UNREACH)
        return 0;
    switch (in->code) {
        case 0: /* net, host unreachable */
        case 1:
        case 5: /* source route failed */
        case 6: /* destination network, host unknown */
        case 7:
        case 8:  /* source host isolated */
        case 11: /* net, host unreachable for TOS */
        case 12:
            out->type = ICMP6_DEST_UNREACH;
            out->code = 0; /* no route to destination */
            return 1;
        case 9: /* net, host administratively prohibited */
        case 10:
        case 13: /* communication administratively prohibited */
        case 15: /* precedence cutoff */
            out->type = ICMP6_DEST_UNREACH;
            out->code = 1;
            return 1;
        case 2: /* protocol unreachable: Parameter Problem pointing at Next Header */
            out->type = ICMP6_PARAMETER_PROBLEM;
            out->code = 1;
            out->rest[3] = 6;
            return 1;
        case 3:
            out->type = ICMP6_DEST_UNREACH;
            out->code = 4; /* port unreachable */
            return 1;
        case ICMP_FRAG_NEEDED: {
            /* minimum(advertised MTU + 20, MTU of the IPv6 next hop, MTU of the IPv4 next hop +
             * 20); a router that gives none (below IPv4's 68) gets the RFC 1191 plateau; and never
             * below 1280 (RFC 7915 §6 item 1), which IPv6 hosts would ignore. */
            __u32 mtu = ((__u32)in->rest[2] << 8) | in->rest[3];
            if (mtu < 68)
                mtu = plateau_below(inner_total);
            mtu += 20;
            mtu = min_known(mtu, device_mtu(skb, c->uplink_ifindex));
            const __u32 clat_mtu = device_mtu(skb, c->clat_ifindex);
            mtu = min_known(mtu, clat_mtu ? clat_mtu + 20 : 0);
            if (mtu < IPV6_MIN_MTU)
                mtu = IPV6_MIN_MTU;
            out->type = ICMP6_PACKET_TOO_BIG;
            out->code = 0;
            out->rest[2] = mtu >> 8;
            out->rest[3] = mtu & 0xff;
            return 1;
        }
        default: /* 14 (host precedence violation) and unknown codes: dropped */
            return 0;
    }
}

/* RFC 7915 §5.2: the ICMPv4 header of an ICMPv6 error (checksum left 0); 0 when the RFC
 * drops it or it carries RFC 4884 extensions. */
static __always_inline int error_header_6to4(struct __sk_buff* skb, const struct clat_config* c,
                                             const struct icmp_header* in,
                                             struct icmp_header* out) {
    if ((in->type == ICMP6_DEST_UNREACH || in->type == ICMP6_TIME_EXCEEDED) && in->rest[0] != 0)
        return 0; /* RFC 4884 length */
    if (in->type == ICMP6_TIME_EXCEEDED) {
        out->type = ICMP_TIME_EXCEEDED;
        out->code = in->code;
        return 1;
    }
    if (in->type == ICMP6_DEST_UNREACH) {
        out->type = ICMP_DEST_UNREACH;
        if (in->code == 0 || in->code == 2 || in->code == 3)
            out->code = 1; /* host unreachable */
        else if (in->code == 1)
            out->code = 10; /* host administratively prohibited */
        else if (in->code == 4)
            out->code = 3; /* port unreachable */
        else
            return 0;
        return 1;
    }
    if (in->type == ICMP6_PACKET_TOO_BIG) {
        /* minimum(advertised MTU - 20, MTU of the IPv4 next hop, MTU of the IPv6 next hop -
         * 20). An advertised MTU below IPv6's 1280 is taken as 1280: no IPv6 link is smaller
         * and IPv6 nodes do the same (RFC 8201 §4). */
        __u32 mtu = ((__u32)in->rest[0] << 24) | ((__u32)in->rest[1] << 16) |
                    ((__u32)in->rest[2] << 8) | in->rest[3];
        if (mtu < IPV6_MIN_MTU)
            mtu = IPV6_MIN_MTU;
        mtu -= 20;
        mtu = min_known(mtu, device_mtu(skb, c->clat_ifindex));
        const __u32 uplink_mtu = device_mtu(skb, c->uplink_ifindex);
        mtu = min_known(mtu, uplink_mtu > 20 ? uplink_mtu - 20 : 0);
        mtu = min_known(mtu, 0xffff);
        out->type = ICMP_DEST_UNREACH;
        out->code = ICMP_FRAG_NEEDED;
        out->rest[2] = mtu >> 8;
        out->rest[3] = mtu & 0xff;
        return 1;
    }
    if (in->type == ICMP6_PARAMETER_PROBLEM) {
        if (in->code == 1) { /* unrecognised Next Header: protocol unreachable */
            out->type = ICMP_DEST_UNREACH;
            out->code = 2;
            return 1;
        }
        if (in->code != 0)
            return 0;
        out->type = ICMP_PARAMETER_PROBLEM;
        out->code = 0;
        const __u32 p = ((__u32)in->rest[0] << 24) | ((__u32)in->rest[1] << 16) |
                        ((__u32)in->rest[2] << 8) | in->rest[3];
        return pointer_6to4(p, &out->rest[0]);
    }
    return 0;
}

/* A checksum field after the pseudo-header or the covered words changed: RFC 1624 eqn. 3,
 * ~(~old + sum(new) - sum(old)), from the partial sum of the difference that seed started. */
static __always_inline __sum16 updated(__s64 diff) {
    return fold(diff);
}

/* The packet leaves the tun for the uplink (see the head of the file). */
static __always_inline int egress_redirect(struct __sk_buff* skb, const struct clat_config* c) {
    count_passed(skb, CLAT_EGRESS_PACKETS, CLAT_EGRESS_BYTES);
    /* bpf_redirect_neigh() expects a packet with a MAC header in front (it checks for one
     * and pulls 14 bytes before it routes and resolves): give the tun's L3 packet a blank
     * one, as bpf_skb_change_head() is meant for. The neighbour code writes the real one. */
    if (bpf_skb_change_head(skb, ETH_HLEN, 0))
        return drop(CLAT_DROP_STORE);
    return bpf_redirect_neigh(c->uplink_ifindex, 0, 0, 0);
}

/* The translated packet enters the CLAT device, where local sockets receive it. */
static __always_inline int ingress_redirect(struct __sk_buff* skb, const struct clat_config* c,
                                            __u32 l2) {
    if (l2) {
        const __be16 ethertype = bpf_htons(ETH_P_IP);
        if (bpf_skb_store_bytes(skb, 12, &ethertype, 2, 0))
            return drop(CLAT_DROP_STORE);
    }
    count_passed(skb, CLAT_INGRESS_PACKETS, CLAT_INGRESS_BYTES);
    return bpf_redirect(c->clat_ifindex, BPF_F_INGRESS);
}

/* An ICMPv4 error from the CLAT address (RFC 7915 §4.2, §4.3): about a packet the CLAT
 * received, so the embedded packet goes from a translatable address to the CLAT address.
 * ip6 is the outer header as the caller made it; payload is the ICMPv4 message's length. */
static __always_inline int egress_icmp_error(struct __sk_buff* skb, const struct clat_config* c,
                                             struct ip6_header* ip6, __u32 payload, __u8 type) {
    if (type != ICMP_DEST_UNREACH && type != ICMP_TIME_EXCEEDED && type != ICMP_PARAMETER_PROBLEM)
        return leave(CLAT_LEFT_ICMP); /* not an error RFC 7915 translates */
    const __u32 at = sizeof(struct ip4_header);
    struct icmp4_error old;
    /* Too short to hold a translatable packet, or shorter than its header says. */
    if (payload < sizeof(old) || skb->len < at + payload ||
        bpf_skb_load_bytes(skb, at, &old, sizeof(old)))
        return leave(CLAT_LEFT_ICMP_INNER);
    /* An ICMPv6 error may not exceed the IPv6 minimum MTU (RFC 4443 §2.4 c); TAYGA cuts. */
    if (sizeof(*ip6) + payload + 20 > IPV6_MIN_MTU)
        return leave(CLAT_LEFT_SIZE);
    const struct ip4_header* in = &old.ip;
    const __u32 inner_total = bpf_ntohs(in->tot_len);
    if (in->ver_ihl != 0x45 || (in->frag_off & bpf_htons(IP4_MF | IP4_OFFSET)) ||
        inner_total < sizeof(*in) || in->daddr != c->clat_v4 || in->saddr == c->tayga_v4 ||
        v4_untranslatable(in->saddr, c->well_known))
        return leave(CLAT_LEFT_ICMP_INNER);

    struct icmp6_error new = {};
    if (!error_header_4to6(skb, c, &old.icmp, &new.icmp, inner_total))
        return leave(CLAT_LEFT_ICMP);
    /* The embedded header as the data path translates it, but its hop limit is the TTL it
     * had: it is a copy, it does not cross the translator again. */
    new.ip.ver_tc_flow = bpf_htonl(0x60000000 | ((__u32)in->tos << 20));
    new.ip.payload_len = bpf_htons(inner_total - sizeof(*in));
    new.ip.nexthdr = in->protocol == IPPROTO_ICMP ? PROTO_ICMP6 : in->protocol;
    new.ip.hop_limit = in->ttl;
    embed(c, in->saddr, new.ip.saddr);
    __builtin_memcpy(new.ip.daddr, c->clat_v6, 16);
    __builtin_memcpy(new.l4, old.l4, 8);

    /* The embedded transport checksum, as far as the error carries it. */
    __be16 tcp_old[2] = {0, 0};
    __be16 tcp_new[2] = {0, 0};
    const __u32 tcp_check_at = at + 8 + 20 + 16;
    const int has_tcp_check = in->protocol == IPPROTO_TCP && payload >= 8 + 20 + 18;
    if (in->protocol == IPPROTO_TCP) {
        if (has_tcp_check) {
            if (bpf_skb_load_bytes(skb, tcp_check_at, &tcp_old[0], 2))
                return leave(CLAT_LEFT_ICMP_INNER);
            tcp_new[0] = updated(bpf_csum_diff((__be32*)&in->saddr, 8, (__be32*)new.ip.saddr, 32,
                                               (__u16)~tcp_old[0]));
        }
    } else if (in->protocol == IPPROTO_UDP) {
        __be16 check;
        __builtin_memcpy(&check, &old.l4[6], 2);
        if (check == 0)
            return leave(CLAT_LEFT_ICMP_INNER); /* RFC 7915 §4.5: TAYGA's business */
        check = updated(
            bpf_csum_diff((__be32*)&in->saddr, 8, (__be32*)new.ip.saddr, 32, (__u16)~check));
        if (check == 0)
            check = 0xffff;
        __builtin_memcpy(&new.l4[6], &check, 2);
    } else if (in->protocol == IPPROTO_ICMP) {
        const __u8 type = echo_type_4to6(old.l4[0]);
        if (!type)
            return leave(CLAT_LEFT_ICMP_INNER); /* an error about an error is not sent */
        __be16 check;
        __builtin_memcpy(&check, &old.l4[2], 2);
        const __u8 old_word[4] = {old.l4[0], old.l4[1], 0, 0};
        const __u8 new_word[4] = {type, old.l4[1], 0, 0};
        struct ip6_pseudo ph = {};
        __builtin_memcpy(ph.saddr, new.ip.saddr, 16);
        __builtin_memcpy(ph.daddr, new.ip.daddr, 16);
        ph.length = bpf_htonl(inner_total - sizeof(*in));
        ph.nexthdr = bpf_htonl(PROTO_ICMP6);
        __s64 diff = bpf_csum_diff((__be32*)old_word, 4, (__be32*)new_word, 4, (__u16)~check);
        check = updated(bpf_csum_diff(0, 0, (__be32*)&ph, sizeof(ph), diff));
        new.l4[0] = type;
        __builtin_memcpy(&new.l4[2], &check, 2);
    } else {
        return leave(CLAT_LEFT_ICMP_INNER);
    }

    ip6->payload_len = bpf_htons(payload + 20);
    ip6->nexthdr = PROTO_ICMP6;
    /* The ICMPv6 checksum: the changed bytes, and the pseudo-header ICMPv4 does not have. */
    const __u16 seed = ~old.icmp.check;
    old.icmp.check = 0;
    __s64 diff = bpf_csum_diff((__be32*)&old, sizeof(old), (__be32*)&new, sizeof(new), seed);
    if (has_tcp_check)
        diff = bpf_csum_diff((__be32*)tcp_old, 4, (__be32*)tcp_new, 4, diff);
    struct ip6_pseudo ph = {};
    __builtin_memcpy(ph.saddr, ip6->saddr, 16);
    __builtin_memcpy(ph.daddr, ip6->daddr, 16);
    ph.length = bpf_htonl(payload + 20);
    ph.nexthdr = bpf_htonl(PROTO_ICMP6);
    new.icmp.check = updated(bpf_csum_diff(0, 0, (__be32*)&ph, sizeof(ph), diff));

    /* 20 bytes more after the IPv4 header, then 20 more in front: the outer IPv6 header,
     * the ICMPv6 header and the embedded IPv6 header then cover what the IPv4 headers did. */
    if (bpf_skb_adjust_room(skb, 20, BPF_ADJ_ROOM_NET, 0))
        return leave(CLAT_LEFT_UNSUPPORTED);
    if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 0))
        return drop(CLAT_DROP_STORE);
    if (bpf_skb_store_bytes(skb, 0, ip6, sizeof(*ip6), 0) ||
        bpf_skb_store_bytes(skb, sizeof(*ip6), &new, sizeof(new), 0) ||
        (has_tcp_check &&
         bpf_skb_store_bytes(skb, sizeof(*ip6) + 8 + sizeof(struct ip6_header) + 16, &tcp_new[0], 2,
                             0)))
        return drop(CLAT_DROP_STORE);
    return egress_redirect(skb, c);
}

/* An ICMPv6 error to the CLAT address (RFC 7915 §5.2, §5.3): about a packet the CLAT sent,
 * so the embedded packet goes from the CLAT address to a translatable address. ip4 is the
 * outer header with its addresses set; payload is the ICMPv6 message's length. */
static __always_inline int ingress_icmp_error(struct __sk_buff* skb, const struct clat_config* c,
                                              __u32 l2, const struct ip6_header* ip6,
                                              struct ip4_header* ip4, __u32 payload, __u8 type) {
    if (type != ICMP6_DEST_UNREACH && type != ICMP6_PACKET_TOO_BIG && type != ICMP6_TIME_EXCEEDED &&
        type != ICMP6_PARAMETER_PROBLEM)
        return leave(CLAT_LEFT_ICMP);
    const __u32 at = l2 + sizeof(struct ip6_header);
    struct icmp6_error old;
    if (payload < sizeof(old) || skb->len < at + payload ||
        bpf_skb_load_bytes(skb, at, &old, sizeof(old)))
        return leave(CLAT_LEFT_ICMP_INNER);
    const struct ip6_header* in = &old.ip;
    __be32 destination;
    if ((bpf_ntohl(in->ver_tc_flow) >> 28) != 6 || !same16(in->saddr, c->clat_v6) ||
        !extract(c, in->daddr, &destination) || v4_untranslatable(destination, c->well_known))
        return leave(CLAT_LEFT_ICMP_INNER);
    const __u32 inner_payload = bpf_ntohs(in->payload_len);

    struct icmp4_error new = {};
    if (!error_header_6to4(skb, c, &old.icmp, &new.icmp))
        return leave(CLAT_LEFT_ICMP);
    new.ip.ver_ihl = 0x45;
    new.ip.tos = (bpf_ntohl(in->ver_tc_flow) >> 20) & 0xff;
    new.ip.tot_len = bpf_htons(inner_payload + sizeof(struct ip4_header));
    new.ip.frag_off = bpf_htons(IP4_DF); /* as the data path made it */
    new.ip.ttl = in->hop_limit;
    new.ip.protocol = in->nexthdr == PROTO_ICMP6 ? IPPROTO_ICMP : in->nexthdr;
    new.ip.saddr = c->clat_v4;
    new.ip.daddr = destination;
    new.ip.check = fold(bpf_csum_diff(0, 0, (__be32*)&new.ip, sizeof(new.ip), 0));
    __builtin_memcpy(new.l4, old.l4, 8);

    __be16 tcp_old[2] = {0, 0};
    __be16 tcp_new[2] = {0, 0};
    const __u32 tcp_check_at = at + 8 + sizeof(struct ip6_header) + 16;
    const int has_tcp_check =
        in->nexthdr == IPPROTO_TCP && payload >= 8 + sizeof(struct ip6_header) + 18;
    if (in->nexthdr == IPPROTO_TCP) {
        if (has_tcp_check) {
            if (bpf_skb_load_bytes(skb, tcp_check_at, &tcp_old[0], 2))
                return leave(CLAT_LEFT_ICMP_INNER);
            tcp_new[0] = updated(bpf_csum_diff((__be32*)in->saddr, 32, (__be32*)&new.ip.saddr, 8,
                                               (__u16)~tcp_old[0]));
        }
    } else if (in->nexthdr == IPPROTO_UDP) {
        __be16 check;
        __builtin_memcpy(&check, &old.l4[6], 2);
        if (check == 0)
            return leave(CLAT_LEFT_ICMP_INNER); /* invalid in IPv6 */
        check = updated(
            bpf_csum_diff((__be32*)in->saddr, 32, (__be32*)&new.ip.saddr, 8, (__u16)~check));
        if (check == 0)
            check = 0xffff;
        __builtin_memcpy(&new.l4[6], &check, 2);
    } else if (in->nexthdr == PROTO_ICMP6) {
        __u8 type = 0;
        if (!echo_type_6to4(old.l4[0], &type))
            return leave(CLAT_LEFT_ICMP_INNER);
        __be16 check;
        __builtin_memcpy(&check, &old.l4[2], 2);
        const __u8 old_word[4] = {old.l4[0], old.l4[1], 0, 0};
        const __u8 new_word[4] = {type, old.l4[1], 0, 0};
        struct ip6_pseudo ph = {};
        __builtin_memcpy(ph.saddr, in->saddr, 16);
        __builtin_memcpy(ph.daddr, in->daddr, 16);
        ph.length = bpf_htonl(inner_payload);
        ph.nexthdr = bpf_htonl(PROTO_ICMP6);
        __s64 diff = bpf_csum_diff((__be32*)old_word, 4, (__be32*)new_word, 4, (__u16)~check);
        check = updated(bpf_csum_diff((__be32*)&ph, sizeof(ph), 0, 0, diff));
        new.l4[0] = type;
        __builtin_memcpy(&new.l4[2], &check, 2);
    } else {
        return leave(CLAT_LEFT_ICMP_INNER); /* extension headers, fragments, others */
    }

    ip4->tot_len = bpf_htons(payload); /* 20 less outside, 20 less inside */
    ip4->protocol = IPPROTO_ICMP;
    ip4->check = fold(bpf_csum_diff(0, 0, (__be32*)ip4, sizeof(*ip4), 0));
    /* The ICMPv4 checksum: the changed bytes, without the ICMPv6 pseudo-header. */
    const __u16 seed = ~old.icmp.check;
    old.icmp.check = 0;
    __s64 diff = bpf_csum_diff((__be32*)&old, sizeof(old), (__be32*)&new, sizeof(new), seed);
    if (has_tcp_check)
        diff = bpf_csum_diff((__be32*)tcp_old, 4, (__be32*)tcp_new, 4, diff);
    struct ip6_pseudo ph = {};
    __builtin_memcpy(ph.saddr, ip6->saddr, 16);
    __builtin_memcpy(ph.daddr, ip6->daddr, 16);
    ph.length = bpf_htonl(payload);
    ph.nexthdr = bpf_htonl(PROTO_ICMP6);
    new.icmp.check = updated(bpf_csum_diff((__be32*)&ph, sizeof(ph), 0, 0, diff));

    /* 20 bytes fewer after the IPv6 header, then 20 fewer in front. */
    if (bpf_skb_adjust_room(skb, -20, BPF_ADJ_ROOM_NET, 0))
        return leave(CLAT_LEFT_UNSUPPORTED);
    if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IP), 0))
        return drop(CLAT_DROP_STORE);
    if (bpf_skb_store_bytes(skb, l2, ip4, sizeof(*ip4), BPF_F_RECOMPUTE_CSUM) ||
        bpf_skb_store_bytes(skb, l2 + sizeof(*ip4), &new, sizeof(new), BPF_F_RECOMPUTE_CSUM) ||
        (has_tcp_check && bpf_skb_store_bytes(skb, l2 + sizeof(*ip4) + 8 + sizeof(*ip4) + 16,
                                              &tcp_new[0], 2, BPF_F_RECOMPUTE_CSUM)))
        return drop(CLAT_DROP_STORE);
    return ingress_redirect(skb, c, l2);
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
            return egress_icmp_error(skb, c, &ip6, payload, type_code[0]);
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
    return egress_redirect(skb, c);
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
    /* A source outside the PLAT prefix is an IPv6-only node: only its ICMPv6 errors about
     * the CLAT's own packets are translated, from 192.0.0.8. */
    __be32 source;
    int v6only = 0;
    if (!extract(c, ip6.saddr, &source)) {
        if (ip6.nexthdr != PROTO_ICMP6)
            return leave(CLAT_LEFT_ADDRESS);
        v6only = 1;
        source = bpf_htonl(IPV4_DUMMY);
    } else if (v4_untranslatable(source, c->well_known)) {
        return leave(CLAT_LEFT_ADDRESS);
    }
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
        const int echo = echo_type_6to4(type_code[0], &type);
        /* From an IPv6-only node: Destination Unreachable, Packet Too Big, Time Exceeded. */
        if (v6only && type_code[0] != ICMP6_DEST_UNREACH && type_code[0] != ICMP6_PACKET_TOO_BIG &&
            type_code[0] != ICMP6_TIME_EXCEEDED)
            return leave(CLAT_LEFT_ADDRESS);
        if (!echo)
            return ingress_icmp_error(skb, c, l2, &ip6, &ip4, payload, type_code[0]);
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
    if (bpf_skb_store_bytes(skb, l2, &ip4, sizeof(ip4), BPF_F_RECOMPUTE_CSUM) ||
        apply_l4_fix(skb, l2 + sizeof(ip4), &fix))
        return drop(CLAT_DROP_STORE);
    return ingress_redirect(skb, c, l2);
}
