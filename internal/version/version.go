// Package version reports the build's version, stamped by the Makefile through -ldflags.
package version

import (
	"fmt"
	"runtime"
)

// Set at build time with -ldflags "-X loom.dev/loom/internal/version.Version=...".
var (
	Version = "dev"
	Commit  = "unknown"
)

// String describes the build in one line.
func String() string {
	return fmt.Sprintf("loom %s (commit %s, %s, %s/%s)", Version, Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
