package redirect

import "net/netip"

// Family is the address family of one nftables table.
type Family int

const (
	IPv4 Family = iota
	IPv6
)

func (f Family) String() string {
	if f == IPv6 {
		return "ip6"
	}
	return "ip"
}

// Table is Loom's table for one family.
type Table struct {
	Family Family
	Name   string
	Chains []Chain
}

// Hook attaches a base chain to netfilter.
type Hook struct {
	Type     string // "nat" or "filter"
	Hook     string // "prerouting" or "output"
	Priority int32
}

// Chain is a base chain (Hook set) or a user chain.
type Chain struct {
	Name  string
	Hook  *Hook
	Rules []Rule
}

// VerdictKind is what a matching rule does.
type VerdictKind int

const (
	Return VerdictKind = iota
	Jump
	Redirect  // to Port on the local host (keeps the original destination in conntrack)
	SetCTZone // conntrack zone Zone
)

// Verdict is a rule's action.
type Verdict struct {
	Kind  VerdictKind
	Chain string // Jump
	Port  uint16 // Redirect
	Zone  uint16 // SetCTZone
}

// Rule is a conjunction of matches and a verdict. Zero fields match
// everything.
type Rule struct {
	OIF      string // output interface name
	L4Proto  string // "tcp" or "udp"; required by port matches and Redirect
	Src      netip.Prefix
	Dst      netip.Prefix
	DstNot   bool
	DPort    uint16   // destination port equals
	DPortNot []uint16 // destination port differs from each
	SPort    uint16   // source port equals
	UID      *uint32  // socket owner uid (locally generated packets only)
	UIDNot   bool
	GID      *uint32
	GIDNot   bool
	Verdict  Verdict
}
