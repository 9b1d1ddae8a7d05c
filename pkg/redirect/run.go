package redirect

import (
	"fmt"
	"io"
)

// Options are the modes of one run.
type Options struct {
	// DryRun prints the nft script instead of programming it.
	DryRun bool
	// Cleanup removes Loom's tables instead of installing them.
	Cleanup bool
	// IPv6 says whether to program the ip6 table; nil detects it with
	// IPv6Enabled.
	IPv6 *bool
	// Namespace to program (default: the calling thread's).
	Namespace Namespace
	// Out receives the dry-run script or a summary of what was done.
	Out io.Writer
}

// Run installs (or with Cleanup removes) the redirection for cfg.
func Run(cfg Config, opts Options) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	ipv6 := false
	if opts.IPv6 != nil {
		ipv6 = *opts.IPv6
	} else {
		var err error
		if ipv6, err = IPv6Enabled(); err != nil {
			return err
		}
	}
	if opts.Cleanup {
		if opts.DryRun {
			_, err := io.WriteString(out, RenderCleanup([]Family{IPv4, IPv6}))
			return err
		}
		deleted, err := Cleanup(opts.Namespace)
		if err != nil {
			return err
		}
		if len(deleted) == 0 {
			_, err = fmt.Fprintf(out, "no %s table to delete\n", TableName)
			return err
		}
		for _, f := range deleted {
			if _, err := fmt.Fprintf(out, "deleted table %s %s\n", f, TableName); err != nil {
				return err
			}
		}
		return nil
	}
	tables := BuildAll(cfg, ipv6)
	if opts.DryRun {
		_, err := io.WriteString(out, Render(tables))
		return err
	}
	if err := Apply(opts.Namespace, tables); err != nil {
		return err
	}
	for _, t := range tables {
		n := 0
		for _, c := range t.Chains {
			n += len(c.Rules)
		}
		if _, err := fmt.Fprintf(out, "programmed table %s %s: %d chains, %d rules\n", t.Family, t.Name, len(t.Chains), n); err != nil {
			return err
		}
	}
	if !ipv6 {
		_, err := fmt.Fprintln(out, "IPv6 is disabled in this network namespace: no ip6 table")
		return err
	}
	if err := AddIPv6Passthrough(opts.Namespace); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "lo has %s/128 for the inbound passthrough\n", IPv6Passthrough)
	return err
}
