package xds

// ScopedGenerator is a Generator that can tell which views the changes behind a Trigger
// can affect, so a push regenerates only those: a policy that selects one workload then
// costs one view, not every view in use.
type ScopedGenerator interface {
	// PushScope is called once at the start of every push Trigger asked for, before any
	// view of it is generated, and answers for the changes made since its previous call.
	// It returns whether a view's config can have changed; nil means every view's.
	PushScope() func(viewKey string) bool
}

// inScope keeps the views a ScopedGenerator's scope names, and those it cannot leave out:
// a view never generated, or whose last generation failed (it is still serving an older
// config, whatever the changes were). The others are returned as skipped.
func (s *Server) inScope(views []*view) (in []*view, skipped int) {
	sg, ok := s.gen.(ScopedGenerator)
	if !ok {
		return views, 0
	}
	affected := sg.PushScope()
	if affected == nil {
		return views, 0
	}
	in = make([]*view, 0, len(views))
	for _, v := range views {
		if affected(v.key) || v.failed.Load() || v.snapshot() == nil {
			in = append(in, v)
		}
	}
	return in, len(views) - len(in)
}
