package bpf

import (
	"encoding/binary"
	"net/netip"
)

// TCP flags.
const (
	flagSYN = 0x02
	flagACK = 0x10
)

// pkt describes a test frame.
type pkt struct {
	src, dst netip.Addr
	dport    uint16
	flags    byte
	proto    byte   // IP protocol (default TCP)
	vlan     bool   // one 802.1Q tag
	fragOff  uint16 // IPv4 fragment offset (8-byte units) / IPv6 fragment header offset
	frag6    bool   // an IPv6 fragment header before TCP
	hopByHop bool   // an IPv6 hop-by-hop header before TCP
	cut      int    // bytes cut off the end
}

// frame builds an Ethernet frame with IPv4 or IPv6 and a TCP header.
func (p pkt) frame() []byte {
	if p.proto == 0 {
		p.proto = 6
	}
	b := make([]byte, 12, 128) // MACs
	if p.vlan {
		b = binary.BigEndian.AppendUint16(b, 0x8100)
		b = binary.BigEndian.AppendUint16(b, 42)
	}
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], p.dport)
	tcp[12] = 5 << 4
	tcp[13] = p.flags
	if p.src.Is4() {
		b = binary.BigEndian.AppendUint16(b, 0x0800)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
		binary.BigEndian.PutUint16(ip[6:], p.fragOff)
		ip[8] = 64
		ip[9] = p.proto
		s, d := p.src.As4(), p.dst.As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
		b = append(append(b, ip...), tcp...)
	} else {
		b = binary.BigEndian.AppendUint16(b, 0x86dd)
		var ext []byte
		next := p.proto
		if p.frag6 {
			ext = append([]byte{next, 0}, binary.BigEndian.AppendUint16(nil, p.fragOff<<3)...)
			ext = append(ext, 0, 0, 0, 1)
			next = 44
		}
		if p.hopByHop {
			ext = append([]byte{next, 0, 1, 4, 0, 0, 0, 0}, ext...) // PadN
			next = 0
		}
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(tcp)))
		ip[6] = next
		ip[7] = 64
		s, d := p.src.As16(), p.dst.As16()
		copy(ip[8:], s[:])
		copy(ip[24:], d[:])
		b = append(append(append(b, ip...), ext...), tcp...)
	}
	return b[:len(b)-p.cut]
}
