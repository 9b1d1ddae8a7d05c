// Package devcluster runs a real local Kubernetes control plane for tests and the demo:
// envtest's etcd and kube-apiserver, plus kube-controller-manager, kube-scheduler and kwok
// with fake nodes so that workloads really become Available. The binaries come from
// hack/k8s-binaries.sh, which builds them from the Go module proxy.
package devcluster

import (
	"fmt"
	"os"
	"path/filepath"
)

// Versions of the binaries hack/k8s-binaries.sh builds; they name its cache folder.
const (
	KubernetesVersion = "v1.37.1"
	EtcdVersion       = "v3.6.16"
	KwokVersion       = "v0.8.0"
)

// Versions of what hack/node-binaries.sh builds for the real node; they name its cache folder.
const (
	CNIPluginsVersion = "v1.10.0"
	CoreDNSVersion    = "v1.15.0"
	// PauseVersion names the pod sandbox image built from test/pause.
	PauseVersion = "1"
)

// NodeAssetsEnv names the environment variable that points at the real node's binaries.
const NodeAssetsEnv = "LOOM_NODE_ASSETS"

var requiredNodeBinaries = []string{"kubelet", "kube-proxy", "coredns", "pause", "cni/bridge", "cni/host-local", "cni/loopback", "cni/portmap"}

// UnreadyAnnotation keeps a pod from ever becoming Ready in the local cluster.
const UnreadyAnnotation = "kwok.loom.dev/unready"

// AssetsEnv names the environment variable that points at the binaries folder.
const AssetsEnv = "LOOM_K8S_ASSETS"

var requiredBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"}

// DefaultAssetsDir is the folder hack/k8s-binaries.sh builds into when LOOM_K8S_ASSETS is unset.
func DefaultAssetsDir() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "loom", fmt.Sprintf("k8s-%s-etcd-%s-kwok-%s", KubernetesVersion, EtcdVersion, KwokVersion))
}

// DefaultNodeAssetsDir is the folder hack/node-binaries.sh builds into when LOOM_NODE_ASSETS is unset.
func DefaultNodeAssetsDir() string {
	return filepath.Join(filepath.Dir(DefaultAssetsDir()), fmt.Sprintf("node-k8s-%s-cni-%s-coredns-%s", KubernetesVersion, CNIPluginsVersion, CoreDNSVersion))
}

// FindNodeAssets returns the real node's binaries folder, from LOOM_NODE_ASSETS or the
// default, and checks that every binary is there.
func FindNodeAssets() (string, error) {
	return findBinaries(NodeAssetsEnv, DefaultNodeAssetsDir(), requiredNodeBinaries, "real node binaries", "make node-binaries")
}

// FindAssets returns the binaries folder, from LOOM_K8S_ASSETS or the default, and checks
// that every binary is there.
func FindAssets() (string, error) {
	return findBinaries(AssetsEnv, DefaultAssetsDir(), requiredBinaries, "kubernetes test binaries", "make k8s-binaries")
}

func findBinaries(env, defaultDir string, required []string, what, makeTarget string) (string, error) {
	dir := os.Getenv(env)
	if dir == "" {
		dir = defaultDir
	}
	for _, name := range required {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("%s missing in %s (%s): run `%s` or set %s", what, dir, name, makeTarget, env)
		}
	}
	return dir, nil
}
