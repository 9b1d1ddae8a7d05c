package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/xds"
)

// proxyStatusPeriod is how often a control-plane pod looks at its proxy counts; it publishes
// only when they changed, so a pod writes at most once per period.
const proxyStatusPeriod = 5 * time.Second

// proxyStatusPublisher publishes this pod's proxy counts for the operator to report in the
// MeshOperator's status (see v1alpha1.ProxyStatusConfigMapPrefix).
type proxyStatusPublisher struct {
	client              kubernetes.Interface
	namespace, revision string
	pod                 string
	counts              func() xds.ProxyCounts
	// bundle is the trust bundle served and how many subscribers lag behind it.
	bundle func() (hash string, lagging int)
	clock  clock.WithTicker
	log    logr.Logger
}

func newProxyStatusPublisher(cfg *rest.Config, opts Options, srv *xds.Server, trust *trustBundle) (*proxyStatusPublisher, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	bundle := func() (string, int) {
		joined := trust.joined()
		if len(joined) == 0 {
			return "", 0
		}
		return bundleHash(joined), localBundleAcks(srv, joined)
	}
	return &proxyStatusPublisher{client: client, namespace: opts.RootNamespace, revision: opts.Revision, pod: opts.PodName,
		counts: srv.Counts, bundle: bundle, clock: clock.RealClock{}, log: opts.Logger.WithName("proxy-status")}, nil
}

// run publishes the counts whenever they change until ctx is done, then withdraws this pod's
// key: a stopped pod serves no proxy.
func (p *proxyStatusPublisher) run(ctx context.Context) error {
	ticker := p.clock.NewTicker(proxyStatusPeriod)
	defer ticker.Stop()
	var last *v1alpha1.ProxyCounts
	for {
		now := toAPICounts(p.counts())
		if p.bundle != nil {
			hash, lagging := p.bundle()
			now.TrustBundle, now.TrustBundleLagging = hash, int32(lagging) //nolint:gosec // stream counts fit
		}
		if last == nil || *last != now {
			if err := PublishProxyCounts(ctx, p.client, p.namespace, p.revision, p.pod, &now); err != nil {
				p.log.Error(err, "proxy counts not published")
			} else {
				last = &now
			}
		}
		select {
		case <-ctx.Done():
			withdraw, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := PublishProxyCounts(withdraw, p.client, p.namespace, p.revision, p.pod, nil); err != nil {
				p.log.Error(err, "proxy counts not withdrawn")
			}
			return nil
		case <-ticker.C():
		}
	}
}

func toAPICounts(c xds.ProxyCounts) v1alpha1.ProxyCounts {
	return v1alpha1.ProxyCounts{Connected: int32(c.Connected), OutOfDate: int32(c.OutOfDate)} //nolint:gosec // stream counts fit
}

// PublishProxyCounts applies pod's counts under pod's own field manager into its revision's
// proxy status ConfigMap in namespace; nil counts remove pod's key. Pods of one revision
// share the ConfigMap without conflicts: server-side apply merges their keys.
func PublishProxyCounts(ctx context.Context, client kubernetes.Interface, namespace, revision, pod string, counts *v1alpha1.ProxyCounts) error {
	if revision == "" {
		revision = "default"
	}
	cm := corev1ac.ConfigMap(v1alpha1.ProxyStatusConfigMap(revision), namespace).
		WithLabels(map[string]string{v1alpha1.LabelProxyStatus: "true", v1alpha1.LabelProxyStatusRevision: revision})
	if counts != nil {
		data, err := json.Marshal(counts)
		if err != nil {
			return err
		}
		cm.WithData(map[string]string{pod: string(data)})
	}
	_, err := client.CoreV1().ConfigMaps(namespace).Apply(ctx, cm, metav1.ApplyOptions{FieldManager: "loom-discovery/" + pod, Force: true})
	if err != nil {
		return fmt.Errorf("ConfigMap %s/%s: %w", namespace, v1alpha1.ProxyStatusConfigMap(revision), err)
	}
	return nil
}
