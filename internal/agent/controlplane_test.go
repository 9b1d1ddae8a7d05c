package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/devcluster"
	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/internal/meshca"
)

// controlPlane is Loom's real discovery server with its mesh CA, run in
// this process against a real kube-apiserver and etcd: its secure port
// (Istio's 15012) serves the CSR API and xDS over TLS and authenticates
// every stream with a TokenReview of the caller's ServiceAccount token.
type controlPlane struct {
	cluster    *devcluster.Cluster
	kube       kubernetes.Interface
	secureAddr string
	rootFile   string // the mesh root, from the istio-ca-root-cert ConfigMap
	stop       context.CancelFunc
	done       chan error
}

const (
	planeNamespace  = "demo"
	planeServerName = "istiod.istio-system.svc"
)

var (
	planeOnce sync.Once
	plane     *controlPlane
	planeErr  error
)

// sharedControlPlane starts the control plane on first use; TestMain
// stops it.
func sharedControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	planeOnce.Do(func() {
		start := time.Now()
		plane, planeErr = startControlPlane()
		if planeErr == nil {
			fmt.Fprintf(os.Stderr, "local control plane (kube-apiserver, etcd, loom discovery) up in %s\n", time.Since(start).Round(time.Millisecond))
		}
	})
	if planeErr != nil {
		t.Fatalf("local control plane: %v", planeErr)
	}
	return plane
}

func stopControlPlane() error {
	if plane == nil {
		return nil
	}
	plane.stop()
	err := <-plane.done
	return errors.Join(err, plane.cluster.Stop())
}

func startControlPlane() (_ *controlPlane, err error) {
	ctx := context.Background()
	cluster, err := devcluster.Start(ctx, devcluster.Options{})
	if err != nil {
		return nil, err
	}
	p := &controlPlane{cluster: cluster, done: make(chan error, 1)}
	defer func() {
		if err != nil {
			if p.stop != nil {
				p.stop()
				err = errors.Join(err, <-p.done)
			}
			err = errors.Join(err, cluster.Stop())
		}
	}()
	if p.kube, err = kubernetes.NewForConfig(cluster.Config); err != nil {
		return nil, err
	}
	for _, ns := range []string{"istio-system", planeNamespace} {
		if _, err := p.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
	}
	secure := make(chan net.Addr, 1)
	monitoring := make(chan net.Addr, 1)
	runCtx, stop := context.WithCancel(ctx)
	p.stop = stop
	go func() {
		p.done <- discovery.Run(runCtx, cluster.Config, discovery.Options{
			XDSAddress: "127.0.0.1:0", MonitoringAddress: "127.0.0.1:0", RootNamespace: "istio-system",
			Listening: func(_, mon net.Addr) { monitoring <- mon },
			CA: &meshca.Options{
				Namespace: "istio-system", TrustDomain: "cluster.local", Mode: v1alpha1.CASelfSigned,
				WorkloadCertTTL: time.Hour, DNSNames: []string{planeServerName}, ClusterID: "Kubernetes",
			},
			SecureAddress:   "127.0.0.1:0",
			SecureListening: func(a net.Addr) { secure <- a },
		})
	}()
	var monAddr net.Addr
	for _, ch := range []chan net.Addr{monitoring, secure} {
		select {
		case a := <-ch:
			if ch == secure {
				p.secureAddr = a.String()
			} else {
				monAddr = a
			}
		case err := <-p.done:
			p.done <- err
			return nil, fmt.Errorf("loom discovery: %w", err)
		case <-time.After(60 * time.Second):
			return nil, errors.New("loom discovery did not listen within 60s")
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := wait.PollUntilContextCancel(waitCtx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		resp, err := http.Get("http://" + monAddr.String() + "/ready")
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}); err != nil {
		return nil, fmt.Errorf("loom discovery not ready: %w", err)
	}
	var root string
	if err := wait.PollUntilContextCancel(waitCtx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		cm, err := p.kube.CoreV1().ConfigMaps(planeNamespace).Get(ctx, "istio-ca-root-cert", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		root = cm.Data["root-cert.pem"]
		return root != "", nil
	}); err != nil {
		return nil, fmt.Errorf("mesh root ConfigMap istio-ca-root-cert in %s: %w", planeNamespace, err)
	}
	p.rootFile = filepath.Join(cluster.Dir, "root-cert.pem")
	if err := os.WriteFile(p.rootFile, []byte(root), 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

// tokenFile writes a token of ServiceAccount sa in the plane's namespace,
// for the mesh CA's audience, as the kubelet projects it.
func (p *controlPlane) tokenFile(t *testing.T, sa string) string {
	t.Helper()
	ctx := context.Background()
	_, err := p.kube.CoreV1().ServiceAccounts(planeNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tr, err := p.kube.CoreV1().ServiceAccounts(planeNamespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{meshca.DefaultAudience}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "istio-token")
	writeToken(t, path, tr.Status.Token)
	return path
}

// upstream is the discovery server's secure port as the agent reaches it.
func (p *controlPlane) upstream(tokenFile string) *caClient {
	return &caClient{address: p.secureAddr, rootFile: p.rootFile, serverName: planeServerName,
		tokenFile: tokenFile, clusterID: "Kubernetes", timeout: 30 * time.Second}
}
