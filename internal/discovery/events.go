package discovery

import (
	"context"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/model"
)

// Reasons of the Warning Events put on objects that have a problem.
const (
	ReasonNotEnforced   = "NotEnforced"
	ReasonInvalidConfig = "InvalidConfig"
)

// problemEvents puts a Warning Event on the object each problem is about,
// once per problem and object generation. Recording never holds up the
// pipeline: problems wait in a bounded queue, and one that does not fit is
// only logged (it stays on /debug/problems and in the metric).
type problemEvents struct {
	recorder record.EventRecorder
	reader   client.Reader
	istio    *istioInputs
	log      logr.Logger
	queue    chan model.Problem
	ledger   eventLedger
}

func newProblemEvents(recorder record.EventRecorder, reader client.Reader, istio *istioInputs, log logr.Logger) *problemEvents {
	return &problemEvents{recorder: recorder, reader: reader, istio: istio, log: log, queue: make(chan model.Problem, 1024)}
}

// notify queues an event for a problem that has just appeared.
func (e *problemEvents) notify(p model.Problem) {
	select {
	case e.queue <- p:
	default:
		e.log.V(1).Info("event queue full; problem not recorded as an event", "problem", p.Error())
	}
}

func (e *problemEvents) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-e.queue:
			if !e.ledger.first(p) {
				continue
			}
			if ref, ok := e.reference(ctx, p); ok {
				e.recorder.Event(ref, corev1.EventTypeWarning, e.reason(p), eventMessage(p))
			}
		}
	}
}

func (e *problemEvents) reason(p model.Problem) string {
	if k, ok := e.istio.kindNamed(p.Kind); ok && !k.enforced() {
		return ReasonNotEnforced
	}
	return ReasonInvalidConfig
}

// reference finds the object a problem names in the cache; problems of
// things that are not objects (a proxy) or of objects gone have none.
func (e *problemEvents) reference(ctx context.Context, p model.Problem) (*corev1.ObjectReference, bool) {
	key := client.ObjectKey{Namespace: p.Meta.Namespace, Name: p.Meta.Name}
	var obj client.Object
	apiVersion := "v1"
	if k, ok := e.istio.kindNamed(p.Kind); ok && e.istio.isActive(k) {
		obj, apiVersion = k.object(), k.gvk.GroupVersion().String()
	} else if p.Kind == "Service" {
		obj = &corev1.Service{}
	} else {
		return nil, false
	}
	if err := e.reader.Get(ctx, key, obj); err != nil {
		return nil, false
	}
	return &corev1.ObjectReference{APIVersion: apiVersion, Kind: p.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(),
		UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion()}, true
}

// eventMessage is the problem without the kind and name the event's
// object already shows.
func eventMessage(p model.Problem) string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// eventLedger remembers which problems were recorded for which generation
// of an object.
type eventLedger struct {
	mu   sync.Mutex
	sent map[string]recordedProblems // kind namespace/name -> recorded
}

type recordedProblems struct {
	generation int64
	texts      map[string]bool
}

// first reports whether p has not been recorded yet for its object's
// generation; a new generation starts afresh.
func (l *eventLedger) first(p model.Problem) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent == nil {
		l.sent = map[string]recordedProblems{}
	}
	key := p.Kind + " " + p.Meta.String()
	r, ok := l.sent[key]
	if !ok || r.generation != p.Meta.Generation {
		r = recordedProblems{generation: p.Meta.Generation, texts: map[string]bool{}}
		l.sent[key] = r
	}
	if r.texts[p.Error()] {
		return false
	}
	r.texts[p.Error()] = true
	return true
}
