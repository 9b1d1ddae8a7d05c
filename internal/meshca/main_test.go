package meshca

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/internal/devcluster"
)

// cluster is a real kube-apiserver and etcd: TokenRequest, TokenReview, Secrets and
// ConfigMaps are the apiserver's own, not fakes; CertificateRequests are served from
// cert-manager's own CRD.
var (
	cluster *devcluster.Cluster
	kube    kubernetes.Interface
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	crd, err := certificateRequestCRD()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager CRD:", err)
		return 1
	}
	if cluster, err = devcluster.Start(context.Background(), devcluster.Options{CRDDirectoryPaths: []string{crd}}); err != nil {
		fmt.Fprintln(os.Stderr, "starting cluster:", err)
		return 1
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping cluster:", err)
		}
	}()
	if kube, err = kubernetes.NewForConfig(cluster.Config); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	return m.Run()
}

// certificateRequestCRD is the CertificateRequest CRD cert-manager ships in its module
// (deploy/crds), at the version go.mod requires.
func certificateRequestCRD() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m github.com/cert-manager/cert-manager: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds", "cert-manager.io_certificaterequests.yaml"), nil
}
