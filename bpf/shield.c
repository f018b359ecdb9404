//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// smsfw's eBPF shield: in front of the SMPP listen ports, drop TCP packets
// from banned sources (one LPM trie, IPv4 as v4-mapped IPv6, with expiry
// times) and new connections (SYN without ACK) over a per-source rate, and
// count every packet per reason. The same code runs as XDP and as TCX
// (tc ingress); only the return codes differ. Everything that cannot be
// parsed, is not TCP or is not for a protected port passes: the kernel's
// own stack judges it.
//
// Regenerate the Go bindings and the object with `make generate` (clang).

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char __license[] SEC("license") = "Dual BSD/GPL";

// Reasons, the index of the stats map (bpf/stats.go names them).
enum reason {
	PASS_ALLOWED = 0, // TCP to a protected port, not banned, within the SYN rate
	PASS_OTHER_PORT,  // TCP to another port
	PASS_NOT_TCP,     // not IPv4/IPv6, or not TCP
	PASS_FRAGMENT,    // a non-first fragment: no TCP header to judge
	PASS_MALFORMED,   // headers cut short or inconsistent
	DROP_BANNED,      // the source is in the ban list
	DROP_SYN_RATE,    // a new connection over the source's SYN rate
	REASONS,
};

// A ban list key: prefix length and address; IPv4 as ::ffff:a.b.c.d with
// 96 added to its prefix length.
struct ban_key {
	__u32 prefixlen;
	__u8 addr[16];
};

// A ban: its end in CLOCK_BOOTTIME nanoseconds (0: none), and its own
// key (a trie lookup does not say which prefix matched): its drops are
// counted under it in ban_drops.
struct ban {
	__u64 expires_ns;
	struct ban_key key;
};

// Settings, written by the loader (one entry).
struct settings {
	__u64 syn_interval_ns; // 1e9 / syn_rate; 0: no SYN limit
	__u64 syn_burst_ns;    // syn_burst * syn_interval_ns
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct ban_key);
	__type(value, struct ban);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536); // the loader sets bpf.max_bans
} bans SEC(".maps");

// Packets each ban dropped, per CPU (one source's flood spread over the
// cores by RSS shares no cache line), by the ban's key; the loader sizes
// it as the ban list and deletes a ban's entry with the ban.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct ban_key);
	__type(value, __u64);
	__uint(max_entries, 65536); // the loader sets bpf.max_bans
} ban_drops SEC(".maps");

// Protected ports (network byte order) -> 1.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, __u8);
	__uint(max_entries, 16);
} ports SEC(".maps");

// Per source (an IPv4 address or an IPv6 /64): the theoretical arrival
// time of the next SYN (GCRA, a token bucket in one number).
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u8[16]);
	__type(value, __u64);
	__uint(max_entries, 65536);
} syn_tat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct settings);
	__uint(max_entries, 1);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, REASONS);
} stats SEC(".maps");

// Put enum reason into BTF for bpf2go (-type reason); the structs are
// there through the maps.
const enum reason *unused_reason __attribute__((unused));

#define VLAN_HLEN 4
#define IPV6_FRAG_OFFSET 0xfff8 // fragment offset bits of frag_off (host order)
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

static __always_inline int count(enum reason r) {
	__u32 k = r;
	__u64 *n = bpf_map_lookup_elem(&stats, &k);
	if (n)
		*n += 1;
	return r;
}

// syn_ok charges one SYN to src's budget: GCRA with the loader's interval
// and burst tolerance. Races between CPUs can let a few more through; they
// never block a source that is within its rate.
static __always_inline int syn_ok(__u8 *src) {
	__u32 zero = 0;
	struct settings *s = bpf_map_lookup_elem(&config, &zero);
	if (!s || s->syn_interval_ns == 0)
		return 1;
	__u64 now = bpf_ktime_get_boot_ns();
	__u64 *tat = bpf_map_lookup_elem(&syn_tat, src);
	__u64 t = now;
	if (tat && *tat > now)
		t = *tat;
	t += s->syn_interval_ns;
	if (t - now > s->syn_burst_ns)
		return 0;
	if (tat)
		*tat = t;
	else
		bpf_map_update_elem(&syn_tat, src, &t, BPF_ANY);
	return 1;
}

// judge looks at one frame and returns its reason.
static __always_inline enum reason judge(void *data, void *data_end) {
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return PASS_MALFORMED;
	__u16 proto = eth->h_proto;
	void *l3 = eth + 1;
#pragma unroll
	for (int i = 0; i < 2; i++) { // 802.1Q / 802.1ad tags
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (l3 + VLAN_HLEN > data_end)
			return PASS_MALFORMED;
		proto = *(__u16 *)(l3 + 2);
		l3 += VLAN_HLEN;
	}

	struct ban_key key = {};
	struct tcphdr *tcp;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > data_end || ip->ihl < 5 || ip->version != 4)
			return PASS_MALFORMED;
		if (ip->protocol != IPPROTO_TCP)
			return PASS_NOT_TCP;
		if (ip->frag_off & bpf_htons(IP_OFFSET))
			return PASS_FRAGMENT;
		tcp = l3 + ip->ihl * 4;
		key.prefixlen = 128;
		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(&key.addr[12], &ip->saddr, 4);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
			return PASS_MALFORMED;
		__u8 next = ip6->nexthdr;
		void *p = ip6 + 1;
#pragma unroll
		for (int i = 0; i < 4; i++) { // extension headers before TCP
			if (next == IPPROTO_TCP)
				break;
			if (next == IPPROTO_FRAGMENT) {
				if (p + 8 > data_end)
					return PASS_MALFORMED;
				if (*(__u16 *)(p + 2) & bpf_htons(IPV6_FRAG_OFFSET))
					return PASS_FRAGMENT;
				next = *(__u8 *)p;
				p += 8;
				continue;
			}
			if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS)
				return PASS_NOT_TCP;
			if (p + 2 > data_end)
				return PASS_MALFORMED;
			next = *(__u8 *)p;
			p += (*(__u8 *)(p + 1) + 1) * 8;
		}
		if (next != IPPROTO_TCP)
			return PASS_NOT_TCP;
		tcp = p;
		key.prefixlen = 128;
		__builtin_memcpy(key.addr, &ip6->saddr, 16);
	} else {
		return PASS_NOT_TCP;
	}
	if ((void *)(tcp + 1) > data_end || tcp->doff < 5)
		return PASS_MALFORMED;
	if (!bpf_map_lookup_elem(&ports, &tcp->dest))
		return PASS_OTHER_PORT;

	// The longest ban covering the source that has not expired: an
	// expired one (until the loader sweeps it) must not hide a broader ban
	// in force, so look again above it, a few levels at most.
	__u64 now = 0;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		struct ban *b = bpf_map_lookup_elem(&bans, &key);
		if (!b)
			break;
		if (b->expires_ns != 0 && now == 0)
			now = bpf_ktime_get_boot_ns();
		if (b->expires_ns == 0 || b->expires_ns > now) {
			__u64 *n = bpf_map_lookup_elem(&ban_drops, &b->key);
			if (n) {
				*n += 1;
			} else {
				__u64 one = 1;
				bpf_map_update_elem(&ban_drops, &b->key, &one, BPF_NOEXIST);
			}
			return DROP_BANNED;
		}
		if (b->key.prefixlen == 0)
			break;
		key.prefixlen = b->key.prefixlen - 1;
	}

	if (tcp->syn && !tcp->ack) {
		// IPv6 sources share a budget per /64: one host has 2^64 addresses.
		if (proto == bpf_htons(ETH_P_IPV6))
			__builtin_memset(&key.addr[8], 0, 8);
		if (!syn_ok(key.addr))
			return DROP_SYN_RATE;
	}
	return PASS_ALLOWED;
}

SEC("xdp")
int xdp_shield(struct xdp_md *ctx) {
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	return count(judge(data, data_end)) >= DROP_BANNED ? XDP_DROP : XDP_PASS;
}

// TCX return codes (linux/bpf.h of kernels before 6.6 lacks them).
#define TCX_NEXT -1
#define TCX_DROP 2

// The headers the judge reads at most: Ethernet, two VLAN tags, IPv6 with
// extension headers, TCP.
#define PULL_LEN 256

SEC("tc")
int tcx_shield(struct __sk_buff *skb) {
	if ((long)skb->data_end - (long)skb->data < PULL_LEN && skb->len > skb->data_end - skb->data)
		bpf_skb_pull_data(skb, skb->len < PULL_LEN ? skb->len : PULL_LEN);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	return count(judge(data, data_end)) >= DROP_BANNED ? TCX_DROP : TCX_NEXT;
}
