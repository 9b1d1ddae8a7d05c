package discovery

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/xds"
)

var peerVSRef = model.ConfigRef{Kind: "VirtualService", Namespace: "shop", Name: "reviews"}

// TestPeerCountsAddUp: another pod's proxies count in the total, and as programmed only if
// that pod judged them against the object's current generation; objects only a peer's
// proxies run show up too.
func TestPeerCountsAddUp(t *testing.T) {
	other := model.ConfigRef{Kind: "DestinationRule", Namespace: "shop", Name: "reviews"}
	local := map[model.ConfigRef]*proxyCounts{peerVSRef: {total: 2, programmed: 2}}
	gen := func(r model.ConfigRef) int64 { return map[model.ConfigRef]int64{peerVSRef: 3, other: 1}[r] }
	peers := []map[string]peerCount{
		{refKey(peerVSRef): {Generation: 3, Total: 3, Programmed: 2, Rejected: 1, FirstRejection: "NACK"}},
		{refKey(peerVSRef): {Generation: 2, Total: 4, Programmed: 4}, refKey(other): {Generation: 1, Total: 1, Programmed: 1}},
		{"garbage": {Total: 9}},
	}
	got := addPeerCounts(local, peers, gen)
	if c := got[peerVSRef]; c.total != 9 || c.programmed != 4 || c.rejected != 1 || c.firstRejection != "NACK" {
		t.Errorf("VirtualService: %+v, want 9 total, 4 programmed (the stale peer's 4 not), 1 rejected", *c)
	}
	if c := got[other]; c == nil || c.total != 1 || c.programmed != 1 {
		t.Errorf("an object only a peer's proxies run: %+v", c)
	}
	if local[peerVSRef].total != 2 {
		t.Error("addPeerCounts changed its input")
	}
}

// TestPeerReportsRoundTrip: what one pod publishes another reads, only while the publishing
// pod is live, and not its own key; a stopped pod's key is withdrawn.
func TestPeerReportsRoundTrip(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "cp-a", Namespace: "mesh"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "cp-b", Namespace: "mesh"}})
	a := &peerConvergence{client: client, namespace: "mesh", revision: "", pod: "cp-a", log: logr.Discard()}
	b := &peerConvergence{client: client, namespace: "mesh", revision: "canary", pod: "cp-b", log: logr.Discard()}
	gen := func(model.ConfigRef) int64 { return 1 }
	a.setLocal(map[model.ConfigRef]*proxyCounts{peerVSRef: {total: 5, programmed: 5}}, gen)
	b.setLocal(map[model.ConfigRef]*proxyCounts{peerVSRef: {total: 1}}, gen)
	a.publish(ctx)
	b.publish(ctx)
	b.refresh(ctx)
	if c := b.withPeers(map[model.ConfigRef]*proxyCounts{peerVSRef: {total: 1}}, gen)[peerVSRef]; c.total != 6 || c.programmed != 5 {
		t.Fatalf("cp-b sees %+v, want its 1 proxy and cp-a's 5", *c)
	}
	if err := client.CoreV1().Pods("mesh").Delete(ctx, "cp-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	b.refresh(ctx)
	if c := b.withPeers(map[model.ConfigRef]*proxyCounts{peerVSRef: {total: 1}}, gen)[peerVSRef]; c.total != 1 {
		t.Fatalf("a gone pod's report still counts: %+v", *c)
	}
	if err := b.apply(ctx, nil); err != nil {
		t.Fatal(err)
	}
	cm, err := client.CoreV1().ConfigMaps("mesh").Get(ctx, "loom-convergence-canary", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Data["cp-b"]; ok {
		t.Fatal("the withdrawn key is still there")
	}
}

// TestStandbyPublishesButWritesNothing: a replica not holding the status Lease computes its
// counts for the one that writes, and queues no status itself; the writer adds the peers'.
func TestStandbyPublishesButWritesNothing(t *testing.T) {
	cur := vsModel(1)
	ref := model.ConfigRef{Kind: "VirtualService", Namespace: "web", Name: "reviews"}
	proxies := &switchableConvergence{}
	proxies.set(xds.ProxyConvergence{NodeID: "a", ViewKey: "web", Current: true})
	views := map[string]model.Proxy{"web": {Kind: model.KindGRPC, Namespace: "web"}}
	obj := observedObject{ref: ref, generation: 1, resourceVersion: "10", enforced: true, tracked: true, actedOn: true}
	objects := map[model.ConfigRef]observedObject{ref: obj}
	start := time.Unix(1000, 0)

	standby := newTestStatusWriter(views, cur, proxies)
	standby.peers = &peerConvergence{log: logr.Discard()}
	standby.standby.Store(true)
	standby.reconcile(cur, objects, nil, start)
	standby.reconcile(cur, objects, nil, start.Add(time.Second))
	if got := drain(standby.queue); len(got) != 0 {
		t.Fatalf("a standby replica queued %v", got)
	}
	if c := standby.peers.local[refKey(ref)]; c.Total != 1 || c.Programmed != 1 || c.Generation != 1 {
		t.Fatalf("the standby's published counts: %+v", c)
	}

	writer := newTestStatusWriter(views, cur, proxies)
	writer.peers = &peerConvergence{log: logr.Discard(), peers: []map[string]peerCount{standby.peers.local}}
	writer.reconcile(cur, objects, nil, start)
	writer.reconcile(cur, objects, nil, start.Add(time.Second))
	got := drain(writer.queue)
	if len(got) != 1 || reconciledMessageOf(got[0].status) != "programmed on 2 of 2 proxies" {
		t.Fatalf("the writer queued %v, want programmed on 2 of 2 proxies (its own and the standby's)", got)
	}
}
