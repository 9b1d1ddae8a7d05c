//go:build tools

// Package tools pins the CNI plugins a local dev node runs (bridge, host-local, loopback,
// portmap). They are built with `go build`, never imported.
package tools

import (
	_ "github.com/containernetworking/plugins/plugins/ipam/host-local"
	_ "github.com/containernetworking/plugins/plugins/main/bridge"
	_ "github.com/containernetworking/plugins/plugins/main/loopback"
	_ "github.com/containernetworking/plugins/plugins/meta/portmap"
)
