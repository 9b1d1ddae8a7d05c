package xds

import (
	"bytes"
	"os/exec"
	"testing"
)

// TestGRPCJSWeightedSplit drives the 80/20 split with a second, independent
// xDS client: @grpc/grpc-js-xds from npm (installed by hack/grpc-js-xds.sh).
func TestGRPCJSWeightedSplit(t *testing.T) {
	modules, err := exec.Command("../../hack/grpc-js-xds.sh").Output()
	if err != nil {
		t.Fatalf("installing @grpc/grpc-js-xds: %v", err)
	}
	ns := newNamespace(t)
	port := splitEighty(t, ns)

	cmd := exec.Command("node", "grpcjs/client.js", target(ns, "echo", port), "1000")
	cmd.Env = append(clientEnv(t, ns, "grpc-js"), "NODE_PATH="+string(bytes.TrimSpace(modules)))
	checkEightyTwenty(t, runSummary(t, cmd))
}
