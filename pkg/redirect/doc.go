// Package redirect installs Istio's sidecar traffic capture (istio-iptables
// in REDIRECT mode) with nftables over netlink, for images that carry no
// iptables binary.
//
// The rule set is a pure function of a Config (Build); Render prints it in
// `nft -f` syntax (the dry run) and Apply programs exactly the same rules
// through github.com/google/nftables. Everything lives in one table named
// "loom" per address family ("ip loom", "ip6 loom"): Apply replaces the
// table atomically (running twice never duplicates rules) and Cleanup
// deletes it, touching nothing else in the network namespace.
//
// Istio's iptables tables map to nftables base chains of the same table:
// nat PREROUTING/OUTPUT become chains PREROUTING/OUTPUT of type nat at
// priority -100, raw OUTPUT/PREROUTING (the DNS conntrack zones) become
// chains RAW_OUTPUT/RAW_PREROUTING of type filter at priority -300. The
// user chains keep Istio's names (ISTIO_INBOUND, ISTIO_REDIRECT,
// ISTIO_IN_REDIRECT, ISTIO_OUTPUT, ISTIO_OUTPUT_DNS).
package redirect
