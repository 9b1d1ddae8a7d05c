package discovery

import (
	"context"
	"time"
)

// modelRefresher rebuilds the model shortly after changes even when no
// proxy asks for it, so /debug/problems, the problems metric and the
// events follow the config with no proxy connected. When a push has
// already rebuilt the model, its rebuild costs nothing.
type modelRefresher struct {
	signal chan struct{}
	// quiet is how long changes must pause, at most wait after the first.
	quiet, wait time.Duration
}

func newModelRefresher() *modelRefresher {
	return &modelRefresher{signal: make(chan struct{}, 1), quiet: 100 * time.Millisecond, wait: time.Second}
}

func (r *modelRefresher) changed() {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// run calls rebuild once per burst of changes until ctx is done.
func (r *modelRefresher) run(ctx context.Context, rebuild func(context.Context)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.signal:
		}
		quiet := time.NewTimer(r.quiet)
		deadline := time.NewTimer(r.wait)
	burst:
		for {
			select {
			case <-ctx.Done():
				quiet.Stop()
				deadline.Stop()
				return
			case <-r.signal:
				quiet.Reset(r.quiet)
			case <-quiet.C:
				break burst
			case <-deadline.C:
				break burst
			}
		}
		quiet.Stop()
		deadline.Stop()
		rebuild(ctx)
	}
}
