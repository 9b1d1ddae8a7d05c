package benchkit

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModuleRoot is the folder of the main module (the checkout).
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Istiod is the path of istiod's binary from hack/istiod.sh in the checkout
// at root, which builds it on first use (about 7 minutes) into a cache outside
// the checkout; the script's progress goes to progress.
func Istiod(ctx context.Context, root string, progress io.Writer) (string, error) {
	script := exec.CommandContext(ctx, filepath.Join(root, "hack", "istiod.sh"))
	script.Dir = root
	script.Stderr = progress
	out, err := script.Output()
	if err != nil {
		return "", fmt.Errorf("hack/istiod.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// IstiodEnv is the environment istiod runs in out of cluster (see
// /work/shared/notes/real-components.md): this process's, without KUBECONFIG
// so that only --kubeconfig picks the cluster, with no injection or validation
// webhooks, no analysis, and no limit on new xDS streams per second (the
// default admits 25 a second on 2 cores). Its CA needs nothing more:
// ENABLE_CA_SERVER defaults to true, the self-signed root goes into the
// istio-ca-secret Secret of POD_NAMESPACE (rootNamespace).
func IstiodEnv(rootNamespace string) []string {
	return append(EnvWithoutKubeconfig(),
		"POD_NAMESPACE="+rootNamespace, "POD_NAME=istiod-local", "REVISION=default",
		"INJECT_ENABLED=false", "VALIDATION_WEBHOOK_CONFIG_NAME=", "INJECTION_WEBHOOK_CONFIG_NAME=",
		"PILOT_ENABLE_ANALYSIS=false", "PILOT_MAX_REQUESTS_PER_SECOND=1000000",
	)
}

// EnvWithoutKubeconfig is this process's environment without KUBECONFIG, so
// that a child's --kubeconfig alone picks the cluster.
func EnvWithoutKubeconfig() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") {
			out = append(out, kv)
		}
	}
	return out
}

// SplitList splits a comma-separated flag value, dropping blanks and spaces.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
