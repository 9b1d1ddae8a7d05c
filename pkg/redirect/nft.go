package redirect

import (
	"fmt"

	"github.com/google/nftables"
)

// Namespace says which network namespace to program: NetNSFd is an open
// /run/netns/<name> (or /proc/<pid>/ns/net) file; 0 means the calling
// thread's namespace.
type Namespace struct {
	NetNSFd int
}

func (ns Namespace) conn() (*nftables.Conn, error) {
	var opts []nftables.ConnOption
	if ns.NetNSFd != 0 {
		opts = append(opts, nftables.WithNetNSFd(ns.NetNSFd))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: open netlink: %w", err)
	}
	return c, nil
}

func nftFamily(f Family) nftables.TableFamily {
	if f == IPv6 {
		return nftables.TableFamilyIPv6
	}
	return nftables.TableFamilyIPv4
}

// Apply replaces Loom's tables with tables in one netlink transaction: each
// table is created if missing, deleted and created again with its chains and
// rules, so running twice leaves one copy, and a failure leaves the previous
// rules in place. A Loom table of a family not in tables (IPv6 turned off
// since the last run) is deleted in the same transaction.
func Apply(ns Namespace, tables []Table) error {
	c, err := ns.conn()
	if err != nil {
		return err
	}
	programmed := map[Family]bool{}
	for _, t := range tables {
		programmed[t.Family] = true
		nt := &nftables.Table{Name: t.Name, Family: nftFamily(t.Family)}
		c.AddTable(nt)
		c.DelTable(nt)
		c.AddTable(nt)
		chains := map[string]*nftables.Chain{}
		for _, ch := range t.Chains {
			chains[ch.Name] = c.AddChain(nftChain(nt, ch))
		}
		for _, ch := range t.Chains {
			for i, r := range ch.Rules {
				exprs, err := ruleExprs(t.Family, r)
				if err != nil {
					return fmt.Errorf("table %s %s chain %s rule %d: %w", t.Family, t.Name, ch.Name, i+1, err)
				}
				c.AddRule(&nftables.Rule{Table: nt, Chain: chains[ch.Name], Exprs: exprs})
			}
		}
	}
	for _, f := range []Family{IPv4, IPv6} {
		if programmed[f] {
			continue
		}
		exists, err := tableExists(c, f)
		if err != nil {
			return err
		}
		if exists {
			c.DelTable(&nftables.Table{Name: TableName, Family: nftFamily(f)})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: programming table(s) %s: %w", tableNames(tables), err)
	}
	return nil
}

// Cleanup deletes Loom's tables (ip loom, ip6 loom) and nothing else; it
// reports which it deleted. Absent tables are not an error.
func Cleanup(ns Namespace) ([]Family, error) {
	c, err := ns.conn()
	if err != nil {
		return nil, err
	}
	var deleted []Family
	for _, f := range []Family{IPv4, IPv6} {
		exists, err := tableExists(c, f)
		if err != nil {
			return nil, err
		}
		if exists {
			c.DelTable(&nftables.Table{Name: TableName, Family: nftFamily(f)})
			deleted = append(deleted, f)
		}
	}
	if len(deleted) == 0 {
		return nil, nil
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("nftables: deleting Loom's tables: %w", err)
	}
	return deleted, nil
}

// TableExists reports whether Loom's table of family f is programmed.
func TableExists(ns Namespace, f Family) (bool, error) {
	c, err := ns.conn()
	if err != nil {
		return false, err
	}
	return tableExists(c, f)
}

func tableExists(c *nftables.Conn, f Family) (bool, error) {
	tables, err := c.ListTablesOfFamily(nftFamily(f))
	if err != nil {
		return false, fmt.Errorf("nftables: listing %s tables: %w", f, err)
	}
	for _, t := range tables {
		if t.Name == TableName {
			return true, nil
		}
	}
	return false, nil
}

func tableNames(tables []Table) string {
	s := ""
	for i, t := range tables {
		if i > 0 {
			s += ", "
		}
		s += t.Family.String() + " " + t.Name
	}
	return s
}

func nftChain(t *nftables.Table, ch Chain) *nftables.Chain {
	c := &nftables.Chain{Name: ch.Name, Table: t}
	if ch.Hook == nil {
		return c
	}
	c.Type = nftables.ChainType(ch.Hook.Type)
	switch ch.Hook.Hook {
	case "prerouting":
		c.Hooknum = nftables.ChainHookPrerouting
	case "output":
		c.Hooknum = nftables.ChainHookOutput
	}
	c.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(ch.Hook.Priority))
	accept := nftables.ChainPolicyAccept
	c.Policy = &accept
	return c
}
