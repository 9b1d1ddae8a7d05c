package redirect

import (
	"fmt"
	"strconv"
	"strings"
)

// Render prints tables as an `nft -f` script that replaces Loom's tables
// atomically: each table is created if missing, deleted, then declared
// again with all its chains and rules (the same transaction Apply sends).
func Render(tables []Table) string {
	var b strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&b, "table %s %s\ndelete table %s %s\n", t.Family, t.Name, t.Family, t.Name)
	}
	for _, t := range tables {
		b.WriteString(RenderTable(t))
	}
	return b.String()
}

// RenderCleanup prints the `nft -f` script that removes Loom's tables of
// the given families (creating each first so the delete cannot fail).
func RenderCleanup(families []Family) string {
	var b strings.Builder
	for _, f := range families {
		fmt.Fprintf(&b, "table %s %s\ndelete table %s %s\n", f, TableName, f, TableName)
	}
	return b.String()
}

// RenderTable prints one table declaration in nft syntax.
func RenderTable(t Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s %s {\n", t.Family, t.Name)
	for _, c := range t.Chains {
		fmt.Fprintf(&b, "\tchain %s {\n", c.Name)
		if c.Hook != nil {
			fmt.Fprintf(&b, "\t\ttype %s hook %s priority %d; policy accept;\n", c.Hook.Type, c.Hook.Hook, c.Hook.Priority)
		}
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "\t\t%s\n", RenderRule(t.Family, r))
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// RenderRule prints one rule in nft syntax, its matches in the order Apply
// programs them.
func RenderRule(fam Family, r Rule) string {
	var parts []string
	if r.OIF != "" {
		parts = append(parts, "oifname "+strconv.Quote(r.OIF))
	}
	hasPorts := r.DPort != 0 || len(r.DPortNot) > 0 || r.SPort != 0
	if r.L4Proto != "" && !hasPorts {
		parts = append(parts, "meta l4proto "+r.L4Proto)
	}
	if r.Src.IsValid() {
		parts = append(parts, fmt.Sprintf("%s saddr %s", fam, r.Src))
	}
	if r.Dst.IsValid() {
		op := ""
		if r.DstNot {
			op = "!= "
		}
		parts = append(parts, fmt.Sprintf("%s daddr %s%s", fam, op, r.Dst))
	}
	if r.DPort != 0 {
		parts = append(parts, fmt.Sprintf("%s dport %d", r.L4Proto, r.DPort))
	}
	for _, p := range r.DPortNot {
		parts = append(parts, fmt.Sprintf("%s dport != %d", r.L4Proto, p))
	}
	if r.SPort != 0 {
		parts = append(parts, fmt.Sprintf("%s sport %d", r.L4Proto, r.SPort))
	}
	if r.UID != nil {
		parts = append(parts, "meta skuid "+notOp(r.UIDNot)+strconv.FormatUint(uint64(*r.UID), 10))
	}
	if r.GID != nil {
		parts = append(parts, "meta skgid "+notOp(r.GIDNot)+strconv.FormatUint(uint64(*r.GID), 10))
	}
	switch v := r.Verdict; v.Kind {
	case Return:
		parts = append(parts, "return")
	case Jump:
		parts = append(parts, "jump "+v.Chain)
	case Redirect:
		parts = append(parts, fmt.Sprintf("redirect to :%d", v.Port))
	case SetCTZone:
		parts = append(parts, fmt.Sprintf("ct zone set %d", v.Zone))
	}
	return strings.Join(parts, " ")
}

func notOp(not bool) string {
	if not {
		return "!= "
	}
	return ""
}
