package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"loom.dev/loom/pkg/model"
)

// watchRecheckInterval is how often a failing watch is looked at for recovery.
const watchRecheckInterval = 5 * time.Second

// watchHealth makes a watch that fails after the start visible. /ready keeps answering 200,
// as istiod's readiness does (it reports the first sync only): pulling every control-plane
// pod out of its Service because the apiserver refuses a list would stop config for every
// proxy, while the last good config keeps serving. Instead each failing watch is a problem
// on /debug/problems (and loom_discovery_config_problems), counted in
// loom_discovery_watch_errors_total{type}, and logged; the problem goes once the watch has
// synced again.
type watchHealth struct {
	clock  clock.PassiveClock
	errors *prometheus.CounterVec

	mu       sync.Mutex
	problems *problemLog // set once the problem log exists; nil: failures are only counted
	failing  map[*toolscache.Reflector]*failingWatch
}

type failingWatch struct {
	typeName string
	since    time.Time
	// resourceVersion is the reflector's last synced version when it failed: a new one
	// means it listed or watched successfully since.
	resourceVersion string
}

func newWatchHealth(reg prometheus.Registerer, clk clock.PassiveClock) *watchHealth {
	h := &watchHealth{clock: clk, failing: map[*toolscache.Reflector]*failingWatch{},
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loom_discovery_watch_errors_total",
			Help: "Failed lists and watches of the objects discovery reads (label type), other than the routine ends of a watch.",
		}, []string{"type"})}
	if reg != nil {
		reg.MustRegister(h.errors)
	}
	return h
}

func (h *watchHealth) setProblems(p *problemLog) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problems = p
}

// handle is the informers' WatchErrorHandler.
func (h *watchHealth) handle(ctx context.Context, r *toolscache.Reflector, err error) {
	toolscache.DefaultWatchErrorHandler(ctx, r, err)
	if routineWatchEnd(err) {
		return
	}
	typeName := r.TypeDescription()
	h.errors.WithLabelValues(typeName).Inc()
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.failing[r]
	if f == nil {
		f = &failingWatch{typeName: typeName, since: h.clock.Now()}
		h.failing[r] = f
	}
	f.resourceVersion = r.LastSyncResourceVersion()
	if h.problems != nil {
		h.problems.replace(f.source(), []model.Problem{f.problem(err)})
	}
}

// recheck drops the problem of every watch that synced since it failed.
func (h *watchHealth) recheck() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for r, f := range h.failing {
		if r.LastSyncResourceVersion() == f.resourceVersion {
			continue
		}
		delete(h.failing, r)
		if h.problems != nil {
			h.problems.drop(f.source())
		}
	}
}

func (h *watchHealth) run(ctx context.Context) {
	t := time.NewTicker(watchRecheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.recheck()
		}
	}
}

func (f *failingWatch) source() string { return "watch " + f.typeName }

func (f *failingWatch) problem(err error) model.Problem {
	return model.Problem{Kind: "Watch", Meta: model.Meta{Name: f.typeName},
		Message: fmt.Sprintf("failing since %s: %v; objects of this type may be stale until the watch recovers (the last good config keeps being served)",
			f.since.UTC().Format(time.RFC3339), err)}
}

// routineWatchEnd: a watch closed normally or its resource version expired; the reflector
// lists again and nothing is stale.
func routineWatchEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
}
