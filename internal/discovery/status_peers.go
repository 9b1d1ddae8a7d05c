package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/pkg/model"
)

// Every control-plane pod (of every revision) publishes how far the objects got on the
// proxies connected to it, one key per pod in ConfigMap convergenceConfigMapPrefix+revision
// of the mesh namespace; the pod that writes status adds up the live pods' reports, so
// "programmed on N of M proxies" counts every proxy of the mesh, not only its own, as
// Istio's distribution reporting does.
const (
	convergenceConfigMapPrefix = "loom-convergence-"
	labelConvergence           = "loom.dev/convergence"
	// convergencePeriod is how often a pod publishes its counts (when they changed) and
	// reads the other pods'.
	convergencePeriod = 5 * time.Second
)

// peerCount is one object's counts on one pod's proxies: the generation they were judged
// against, then total, programmed and rejected proxies, and the first rejection.
type peerCount struct {
	Generation     int64  `json:"g"`
	Total          int    `json:"t"`
	Programmed     int    `json:"p"`
	Rejected       int    `json:"r,omitempty"`
	FirstRejection string `json:"m,omitempty"`
}

// peerConvergence publishes this pod's counts and keeps the other pods' last reports.
type peerConvergence struct {
	client              kubernetes.Interface
	namespace, revision string
	pod                 string
	log                 logr.Logger

	mu        sync.Mutex
	local     map[string]peerCount // this pod's, by refKey
	published map[string]peerCount
	peers     []map[string]peerCount // the other live pods'
}

func refKey(r model.ConfigRef) string { return r.Kind + "/" + r.Namespace + "/" + r.Name }

func parseRefKey(k string) (model.ConfigRef, bool) {
	parts := strings.SplitN(k, "/", 3)
	if len(parts) != 3 {
		return model.ConfigRef{}, false
	}
	return model.ConfigRef{Kind: parts[0], Namespace: parts[1], Name: parts[2]}, true
}

// setLocal records this pod's counts (computed against generation).
func (p *peerConvergence) setLocal(counts map[model.ConfigRef]*proxyCounts, generation func(model.ConfigRef) int64) {
	local := make(map[string]peerCount, len(counts))
	for ref, c := range counts {
		local[refKey(ref)] = peerCount{Generation: generation(ref), Total: c.total, Programmed: c.programmed, Rejected: c.rejected, FirstRejection: c.firstRejection}
	}
	p.mu.Lock()
	p.local = local
	p.mu.Unlock()
}

// withPeers adds the other pods' last reports to counts (a copy).
func (p *peerConvergence) withPeers(counts map[model.ConfigRef]*proxyCounts, generation func(model.ConfigRef) int64) map[model.ConfigRef]*proxyCounts {
	p.mu.Lock()
	peers := p.peers
	p.mu.Unlock()
	return addPeerCounts(counts, peers, generation)
}

// addPeerCounts adds the peers' counts of each object to a copy of counts: their proxies
// count in the total; they count as programmed only if the peer judged them against the
// object's current generation (a peer still on an older one has not programmed it yet).
func addPeerCounts(counts map[model.ConfigRef]*proxyCounts, peers []map[string]peerCount, generation func(model.ConfigRef) int64) map[model.ConfigRef]*proxyCounts {
	out := make(map[model.ConfigRef]*proxyCounts, len(counts))
	for ref, c := range counts {
		cp := *c
		out[ref] = &cp
	}
	for _, peer := range peers {
		for key, pc := range peer {
			ref, ok := parseRefKey(key)
			if !ok || pc.Total == 0 {
				continue
			}
			c := out[ref]
			if c == nil {
				c = &proxyCounts{}
				out[ref] = c
			}
			c.total += pc.Total
			if pc.Generation >= generation(ref) {
				c.programmed += pc.Programmed
			}
			c.rejected += pc.Rejected
			if c.firstRejection == "" {
				c.firstRejection = pc.FirstRejection
			}
		}
	}
	return out
}

// run publishes this pod's counts when they changed and reads the other live pods' every
// convergencePeriod, until ctx is done; then it withdraws this pod's key.
func (p *peerConvergence) run(ctx context.Context) {
	t := time.NewTicker(convergencePeriod)
	defer t.Stop()
	for {
		p.publish(ctx)
		p.refresh(ctx)
		select {
		case <-ctx.Done():
			if p.pod == "" {
				return
			}
			withdraw, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := p.apply(withdraw, nil); err != nil {
				p.log.Error(err, "convergence report not withdrawn")
			}
			return
		case <-t.C:
		}
	}
}

func (p *peerConvergence) publish(ctx context.Context) {
	if p.pod == "" {
		return // a control plane outside a pod has no key of its own
	}
	p.mu.Lock()
	local := p.local
	same := local != nil && maps.Equal(local, p.published)
	p.mu.Unlock()
	if local == nil || same {
		return
	}
	if err := p.apply(ctx, local); err != nil {
		p.log.Error(err, "convergence report not published")
		return
	}
	p.mu.Lock()
	p.published = local
	p.mu.Unlock()
}

// apply writes this pod's key (nil: removes it) with its own field manager, so the pods
// of a revision share the ConfigMap without conflicts.
func (p *peerConvergence) apply(ctx context.Context, counts map[string]peerCount) error {
	name := convergenceConfigMapPrefix + revisionName(p.revision)
	cm := corev1ac.ConfigMap(name, p.namespace).WithLabels(map[string]string{labelConvergence: "true"})
	if counts != nil {
		data, err := json.Marshal(counts)
		if err != nil {
			return err
		}
		cm.WithData(map[string]string{p.pod: string(data)})
	}
	_, err := p.client.CoreV1().ConfigMaps(p.namespace).Apply(ctx, cm, metav1.ApplyOptions{FieldManager: "loom-discovery/" + p.pod, Force: true})
	if err != nil {
		return fmt.Errorf("ConfigMap %s/%s: %w", p.namespace, name, err)
	}
	return nil
}

func (p *peerConvergence) refresh(ctx context.Context) {
	cms, err := p.client.CoreV1().ConfigMaps(p.namespace).List(ctx, metav1.ListOptions{LabelSelector: labelConvergence + "=true"})
	if err != nil {
		p.log.Error(err, "other control-plane pods' convergence not read")
		return
	}
	pods, err := p.client.CoreV1().Pods(p.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		p.log.Error(err, "control-plane pods not listed")
		return
	}
	peers := peerReports(cms.Items, livePods(pods.Items), p.pod)
	p.mu.Lock()
	p.peers = peers
	p.mu.Unlock()
}

// peerReports are the reports of the live pods other than self; unreadable ones are
// skipped.
func peerReports(configMaps []corev1.ConfigMap, live map[string]bool, self string) []map[string]peerCount {
	var out []map[string]peerCount
	for _, cm := range configMaps {
		for pod, data := range cm.Data {
			if pod == self || !live[pod] {
				continue
			}
			var report map[string]peerCount
			if json.Unmarshal([]byte(data), &report) == nil {
				out = append(out, report)
			}
		}
	}
	return out
}
