package discovery

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"

	"github.com/go-logr/logr"

	"loom.dev/loom/pkg/model"
)

// problemLog keeps what is wrong in the config now, logs each problem once
// when it appears, and serves the list on /debug/problems.
type problemLog struct {
	log     logr.Logger
	metrics *metrics
	// appeared, if set, is called with each problem new to its source, or
	// found again in a new generation of its object.
	appeared func(model.Problem)

	mu      sync.Mutex
	sources map[string]map[string]model.Problem // source -> text -> problem
}

func newProblemLog(log logr.Logger, m *metrics) *problemLog {
	return &problemLog{log: log, metrics: m, sources: map[string]map[string]model.Problem{}}
}

// replace sets the problems found by one source (the model, a view's
// translation), logging the new ones.
func (l *problemLog) replace(source string, problems []model.Problem) {
	next := make(map[string]model.Problem, len(problems))
	for _, p := range problems {
		next[p.Error()] = p
	}
	var appeared []model.Problem
	defer func() { // after the lock is released
		if l.appeared != nil {
			for _, p := range appeared {
				l.appeared(p)
			}
		}
	}()
	l.mu.Lock()
	defer l.mu.Unlock()
	known := map[string]bool{}
	for src, ps := range l.sources {
		if src == source {
			continue
		}
		for text := range ps {
			known[text] = true
		}
	}
	for text, p := range next {
		before, old := l.sources[source][text]
		if !old || before.Meta.Generation != p.Meta.Generation {
			appeared = append(appeared, p)
		}
		if !old && !known[text] {
			l.log.Info("invalid configuration skipped", "kind", p.Kind, "object", p.Meta.String(), "field", p.Field, "problem", p.Message)
		}
	}
	l.sources[source] = next
	total := map[string]bool{}
	for _, ps := range l.sources {
		for text := range ps {
			total[text] = true
		}
	}
	l.metrics.problems.Set(float64(len(total)))
}

func (l *problemLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ps := range l.sources {
		for text := range ps {
			if !slices.Contains(out, text) {
				out = append(out, text)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (l *problemLog) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"problems": l.list()})
}
