/* The layout shared by the eBPF programs (clat.bpf.c) and their loader (bpf_programs.cpp):
 * the translation configuration and the counter slots. Plain C, fixed-width kernel types. */
#ifndef CLAT_BPF_H
#define CLAT_BPF_H

#include <linux/types.h>

/* One configuration generation. The loader writes the inactive one of two slots and then
 * flips clat_active (one aligned 32-bit store), so that a program never sees half of an
 * update. */
struct clat_config {
    __u8 prefix[16];  /* PLAT prefix, bits past prefix_len zero */
    __u8 clat_v6[16]; /* the CLAT IPv6 address */
    __u32 clat_v4;    /* the CLAT IPv4 address, network order */
    __u32 tayga_v4;   /* TAYGA's own IPv4 address: left to TAYGA; network order */
    __u32 uplink_ifindex;
    __u32 clat_ifindex;
    __u8 prefix_len;    /* 32, 40, 48, 56, 64 or 96 (RFC 6052 §2.2) */
    __u8 uplink_l2_len; /* 14 on Ethernet, 0 on a raw-IP uplink */
    __u8 enabled;       /* 0: every packet goes the normal way */
    __u8 well_known;    /* the prefix is 64:ff9b::/96: non-global IPv4 is left to TAYGA */
};

/* Slots of the per-CPU counter array. Packets "left" continue on the normal path (TAYGA);
 * packets "dropped" were damaged half-way by a failing helper and could not continue. */
enum clat_counter {
    CLAT_EGRESS_PACKETS,
    CLAT_EGRESS_BYTES,
    CLAT_INGRESS_PACKETS,
    CLAT_INGRESS_BYTES,
    CLAT_LEFT_FRAGMENT,    /* IPv4 fragment or IPv6 extension header */
    CLAT_LEFT_OPTIONS,     /* IPv4 options */
    CLAT_LEFT_ICMP,        /* ICMP type/code RFC 7915 does not translate, or RFC 4884 extensions */
    CLAT_LEFT_PROTOCOL,    /* neither TCP, UDP nor ICMP */
    CLAT_LEFT_UDP_ZERO,    /* IPv4 UDP without checksum (RFC 7915 §4.5) */
    CLAT_LEFT_ADDRESS,     /* address TAYGA answers or refuses (non-global, itself) */
    CLAT_LEFT_TTL,         /* TTL/hop limit would expire: TAYGA sends Time Exceeded */
    CLAT_LEFT_SIZE,        /* DF clear and too big for 1280: needs IPv6 fragmentation */
    CLAT_LEFT_UNSUPPORTED, /* bpf_skb_change_proto refused (e.g. a GSO type) */
    CLAT_DROP_STORE,       /* rewriting a header or a checksum failed */
    CLAT_LEFT_ICMP_INNER,  /* ICMP error whose embedded packet is not one translated here */
    CLAT_COUNTER_COUNT
};

#define CLAT_EGRESS_PROG "clat_egress"
#define CLAT_INGRESS_PROG "clat_ingress"

#endif
