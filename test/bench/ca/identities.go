package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/test/bench/benchkit"
)

const (
	benchNamespace = "bench-ca"
	rootNamespace  = "istio-system"
	trustDomain    = "cluster.local"
	clusterID      = "Kubernetes"
	audience       = "istio-ca"
	// caServerName is in both CAs' serving certificates: istiod's by default, Loom's
	// through --ca-dns-names.
	caServerName = "istiod." + rootNamespace + ".svc"
	tokenTTL     = 2 * time.Hour
)

func serviceAccountName(i int) string { return fmt.Sprintf("sa-%d", i) }

// identity is one ServiceAccount with a TokenRequest token for audience istio-ca, as the
// kubelet projects it into a pod for pilot-agent.
type identity struct {
	serviceAccount string
	token          string
	tokenFile      string
}

func spiffeID(sa string) string {
	return "spiffe://" + trustDomain + "/ns/" + benchNamespace + "/sa/" + sa
}

type kubeClients struct {
	cs   kubernetes.Interface
	ctrl client.Client
}

func newKubeClients(cfg *rest.Config) (*kubeClients, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 2000, 4000
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	ctrl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &kubeClients{cs: cs, ctrl: ctrl}, nil
}

// setupIdentities creates the namespaces, n ServiceAccounts and one token each, written
// to dir/tokens/<sa>. None of this is timed.
func setupIdentities(ctx context.Context, k *kubeClients, n int, dir string) ([]identity, error) {
	for _, ns := range []string{benchNamespace, rootNamespace} {
		_, err := k.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("namespace %s: %w", ns, err)
		}
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return nil, err
	}
	ids := make([]identity, n)
	err := benchkit.Parallel(ctx, n, 32, func(ctx context.Context, i int) error {
		sa := serviceAccountName(i)
		sas := k.cs.CoreV1().ServiceAccounts(benchNamespace)
		_, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("serviceaccount %s/%s: %w", benchNamespace, sa, err)
		}
		tr, err := sas.CreateToken(ctx, sa, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			Audiences: []string{audience}, ExpirationSeconds: ptr.To(int64(tokenTTL / time.Second)),
		}}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("token for serviceaccount %s/%s: %w", benchNamespace, sa, err)
		}
		path := filepath.Join(tokens, sa)
		if err := os.WriteFile(path, []byte(tr.Status.Token), 0o600); err != nil {
			return err
		}
		ids[i] = identity{serviceAccount: sa, token: tr.Status.Token, tokenFile: path}
		return nil
	})
	return ids, err
}
