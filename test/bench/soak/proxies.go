package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	"loom.dev/loom/test/bench/benchkit"
	"loom.dev/loom/test/bench/benchproto"
)

// sidecars is one run of test/bench/adsclients: long-lived Envoy-like
// clients. Restarting it makes every one of them reconnect.
type sidecars struct {
	*benchkit.Piped
	synced chan struct{} // closed once every client has its full config
}

func startSidecars(bin string, args []string, log io.Writer) (*sidecars, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = log
	s := &sidecars{synced: make(chan struct{})}
	onLine := func(line []byte) {
		var e benchproto.Event
		if json.Unmarshal(line, &e) == nil && e.Event == benchproto.EventSynced {
			close(s.synced)
		}
	}
	var err error
	if s.Piped, err = benchkit.StartPiped(cmd, onLine, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// waitSynced waits until every client has its full config.
func (s *sidecars) waitSynced(ctx context.Context, timeout time.Duration) error {
	select {
	case <-s.synced:
		return nil
	case <-s.Done():
		return fmt.Errorf("adsclients exited before every client had its config")
	case <-time.After(timeout):
		return fmt.Errorf("not every client had its config after %s", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop closes stdin (adsclients exits on it), killing it if it lingers.
func (s *sidecars) stop() { s.Stop(5 * time.Second) }

// churn connects short-lived proxies, each with a label set of its own, at
// a steady rate: each asks for clusters, ACKs them and disconnects.
type churn struct {
	conn                    *grpc.ClientConn
	served, failed, skipped atomic.Int64
}

func (c *churn) run(ctx context.Context, perSecond float64) {
	if perSecond <= 0 {
		return
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / perSecond))
	defer t.Stop()
	sem := make(chan struct{}, 16) // at most this many in flight
	var wg sync.WaitGroup
	defer wg.Wait()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			c.skipped.Add(1) // the server is behind: count it, do not pile up
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := c.once(ctx, n); err != nil && ctx.Err() == nil {
				if c.failed.Add(1) <= 3 {
					logf("short-lived proxy %d: %v", n, err)
				}
				return
			}
			c.served.Add(1)
		})
	}
}

func (c *churn) once(ctx context.Context, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	name := fmt.Sprintf("churn-%d", n)
	ip := fmt.Sprintf("10.3.%d.%d", (n/250)%250, n%250+1)
	meta, err := structpb.NewStruct(map[string]any{
		"NAMESPACE": namespace, "INSTANCE_IPS": ip, "NAME": name,
		"LABELS": map[string]any{"app": "churn", "pod-template-hash": fmt.Sprintf("h%d", n)},
	})
	if err != nil {
		return err
	}
	node := &corev3.Node{Id: fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", ip, name, namespace, namespace), Metadata: meta}
	s, err := discoveryv3.NewAggregatedDiscoveryServiceClient(c.conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	if err := s.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ClusterType}); err != nil {
		return err
	}
	r, err := s.Recv()
	if err != nil {
		return err
	}
	if len(r.Resources) == 0 {
		return fmt.Errorf("no clusters")
	}
	return s.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, VersionInfo: r.VersionInfo, ResponseNonce: r.Nonce})
}

func openLog(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
}
