package redirect

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// disableIPv6Sysctl is read in the calling process's network namespace
// (/proc/sys/net is per namespace).
const disableIPv6Sysctl = "/proc/sys/net/ipv6/conf/all/disable_ipv6"

// IPv6Enabled reports whether the current network namespace has IPv6: the
// kernel has it and net.ipv6.conf.all.disable_ipv6 is 0. Istio programs
// ip6tables only when the pod has IPv6; Loom programs the ip6 table exactly
// when this is true.
func IPv6Enabled() (bool, error) {
	b, err := os.ReadFile(disableIPv6Sysctl)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // kernel without IPv6
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", disableIPv6Sysctl, err)
	}
	return strings.TrimSpace(string(b)) == "0", nil
}
