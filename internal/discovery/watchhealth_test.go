package discovery

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// TestFailingWatchIsAProblemUntilItRecovers runs a real client-go informer whose list the
// apiserver refuses (as after revoked RBAC): the failure becomes a problem naming the type
// and is counted; once a list succeeds again the problem goes. Routine watch ends are not
// failures.
func TestFailingWatchIsAProblemUntilItRecovers(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newWatchHealth(reg, clock.RealClock{})
	problems := newProblemLog(testr.New(t), newMetrics(nil))
	h.setProblems(problems)

	var refused atomic.Bool
	refused.Store(true)
	lw := &toolscache.ListWatch{
		ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) {
			if refused.Load() {
				return nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("RBAC revoked"))
			}
			return &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "7"}}, nil
		},
		// client-go streams the initial list through a watch (WatchList) when it can: refuse
		// that too, and once allowed end the initial events with the bookmark the apiserver sends.
		WatchFuncWithContext: func(_ context.Context, opts metav1.ListOptions) (apiwatch.Interface, error) {
			if refused.Load() {
				return nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("RBAC revoked"))
			}
			w := apiwatch.NewFakeWithChanSize(1, false)
			if opts.SendInitialEvents != nil && *opts.SendInitialEvents {
				w.Action(apiwatch.Bookmark, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "7",
					Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}})
			}
			return w, nil
		},
	}
	inf := toolscache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, toolscache.Indexers{})
	if err := inf.SetWatchErrorHandlerWithContext(h.handle); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go inf.RunWithContext(ctx)

	waitFor(t, "the refused list reported", func() bool {
		l := problems.list()
		return len(l) == 1 && strings.Contains(l[0], "Watch /*v1.Pod: failing since") && strings.Contains(l[0], "RBAC revoked")
	})
	if n := testutil.ToFloat64(h.errors.WithLabelValues("*v1.Pod")); n < 1 {
		t.Fatalf("loom_discovery_watch_errors_total{type=*v1.Pod} = %v", n)
	}
	h.recheck()
	if len(problems.list()) != 1 {
		t.Fatal("the problem went while the list was still refused")
	}

	refused.Store(false)
	waitFor(t, "the informer synced again", inf.HasSynced)
	waitFor(t, "the problem gone once the watch recovered", func() bool { h.recheck(); return len(problems.list()) == 0 })
}

func TestRoutineWatchEndsAreNoFailures(t *testing.T) {
	for _, err := range []error{apierrors.NewResourceExpired("too old"), io.EOF, io.ErrUnexpectedEOF} {
		if !routineWatchEnd(err) {
			t.Errorf("%v counted as a failure", err)
		}
	}
	if routineWatchEnd(apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no"))) {
		t.Error("a refused list is not a routine end")
	}
}

// waitFor polls cond for up to 30 seconds of real time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
