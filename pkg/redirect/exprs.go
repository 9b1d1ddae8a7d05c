package redirect

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Header offsets of the fields the rules match.
const (
	ipv4SrcOffset, ipv4DstOffset = 12, 16
	ipv6SrcOffset, ipv6DstOffset = 8, 24
	srcPortOffset, dstPortOffset = 0, 2
)

func addrOffset(fam Family, src bool) uint32 {
	switch {
	case fam == IPv4 && src:
		return ipv4SrcOffset
	case fam == IPv4:
		return ipv4DstOffset
	case src:
		return ipv6SrcOffset
	}
	return ipv6DstOffset
}

// ruleExprs compiles a rule to the expressions nft itself would generate
// for RenderRule's text, in the same order.
func ruleExprs(fam Family, r Rule) ([]expr.Any, error) {
	var e []expr.Any
	cmp := func(op expr.CmpOp, data []byte) *expr.Cmp { return &expr.Cmp{Op: op, Register: 1, Data: data} }
	if r.OIF != "" {
		if len(r.OIF) >= unix.IFNAMSIZ {
			return nil, fmt.Errorf("interface name %q too long", r.OIF)
		}
		name := make([]byte, unix.IFNAMSIZ)
		copy(name, r.OIF)
		e = append(e, &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, cmp(expr.CmpOpEq, name))
	}
	ports := r.DPort != 0 || len(r.DPortNot) > 0 || r.SPort != 0
	needsProto := ports || r.Verdict.Kind == Redirect
	switch r.L4Proto {
	case "tcp", "udp":
		proto := byte(unix.IPPROTO_TCP)
		if r.L4Proto == "udp" {
			proto = unix.IPPROTO_UDP
		}
		e = append(e, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, cmp(expr.CmpOpEq, []byte{proto}))
	case "":
		if needsProto {
			return nil, fmt.Errorf("port match or redirect without a transport protocol")
		}
	default:
		return nil, fmt.Errorf("transport protocol %q: want tcp or udp", r.L4Proto)
	}
	addr := func(p netip.Prefix, src, not bool) ([]expr.Any, error) {
		if p.Addr().Is4() != (fam == IPv4) {
			return nil, fmt.Errorf("address %s does not belong in an %s table", p, fam)
		}
		off := addrOffset(fam, src)
		bytes := p.Masked().Addr().AsSlice()
		out := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(len(bytes))}}
		if p.Bits() < len(bytes)*8 {
			mask := make([]byte, len(bytes))
			for i := 0; i < p.Bits(); i++ {
				mask[i/8] |= 0x80 >> (i % 8)
			}
			out = append(out, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(len(bytes)), Mask: mask, Xor: make([]byte, len(bytes))})
		}
		op := expr.CmpOpEq
		if not {
			op = expr.CmpOpNeq
		}
		return append(out, cmp(op, bytes)), nil
	}
	if r.Src.IsValid() {
		x, err := addr(r.Src, true, false)
		if err != nil {
			return nil, err
		}
		e = append(e, x...)
	}
	if r.Dst.IsValid() {
		x, err := addr(r.Dst, false, r.DstNot)
		if err != nil {
			return nil, err
		}
		e = append(e, x...)
	}
	port := func(off uint32, op expr.CmpOp, p uint16) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
			cmp(op, binaryutil.BigEndian.PutUint16(p)),
		}
	}
	if r.DPort != 0 {
		e = append(e, port(dstPortOffset, expr.CmpOpEq, r.DPort)...)
	}
	for _, p := range r.DPortNot {
		e = append(e, port(dstPortOffset, expr.CmpOpNeq, p)...)
	}
	if r.SPort != 0 {
		e = append(e, port(srcPortOffset, expr.CmpOpEq, r.SPort)...)
	}
	owner := func(key expr.MetaKey, v uint32, not bool) []expr.Any {
		op := expr.CmpOpEq
		if not {
			op = expr.CmpOpNeq
		}
		return []expr.Any{&expr.Meta{Key: key, Register: 1}, cmp(op, binaryutil.NativeEndian.PutUint32(v))}
	}
	if r.UID != nil {
		e = append(e, owner(expr.MetaKeySKUID, *r.UID, r.UIDNot)...)
	}
	if r.GID != nil {
		e = append(e, owner(expr.MetaKeySKGID, *r.GID, r.GIDNot)...)
	}
	switch v := r.Verdict; v.Kind {
	case Return:
		e = append(e, &expr.Verdict{Kind: expr.VerdictReturn})
	case Jump:
		e = append(e, &expr.Verdict{Kind: expr.VerdictJump, Chain: v.Chain})
	case Redirect:
		e = append(e,
			&expr.Immediate{Register: 1, Data: binaryutil.BigEndian.PutUint16(v.Port)},
			&expr.Redir{RegisterProtoMin: 1})
	case SetCTZone:
		e = append(e,
			&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint16(v.Zone)},
			&expr.Ct{Key: expr.CtKeyZONE, Register: 1, SourceRegister: true})
	default:
		return nil, fmt.Errorf("unknown verdict %d", v.Kind)
	}
	return e, nil
}
