package discovery

import (
	"slices"
	"strconv"
	"testing"

	"github.com/go-logr/logr"

	"loom.dev/loom/pkg/model"
)

func TestProblemLogReportsWhatAppears(t *testing.T) {
	var appeared []string
	l := newProblemLog(logr.Discard(), newMetrics(nil))
	l.appeared = func(p model.Problem) { appeared = append(appeared, p.Error()+" @"+itoa(p.Meta.Generation)) }
	problem := func(name string, generation int64) model.Problem {
		return model.Problem{Kind: "PeerAuthentication", Meta: model.Meta{Namespace: "ns", Name: name, Generation: generation}, Message: "not enforced"}
	}
	for _, step := range []struct {
		source   string
		problems []model.Problem
		want     []string
	}{
		{"model", []model.Problem{problem("a", 1)}, []string{"PeerAuthentication ns/a: not enforced @1"}},
		{"model", []model.Problem{problem("a", 1)}, nil}, // a rebuild finds the same
		{"model", []model.Problem{problem("a", 2), problem("b", 1)}, []string{"PeerAuthentication ns/a: not enforced @2", "PeerAuthentication ns/b: not enforced @1"}},
		{"model", []model.Problem{problem("b", 1)}, nil},
		{"model", []model.Problem{problem("a", 2), problem("b", 1)}, []string{"PeerAuthentication ns/a: not enforced @2"}}, // back after it was gone
	} {
		appeared = nil
		l.replace(step.source, step.problems)
		slices.Sort(appeared)
		if !slices.Equal(appeared, step.want) {
			t.Errorf("replace %v: appeared %q, want %q", step.problems, appeared, step.want)
		}
	}
	if got := l.list(); len(got) != 2 {
		t.Errorf("list = %q, want the two problems", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
