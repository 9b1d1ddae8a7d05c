package xds

// PushEnder is a Generator that keeps what the views of one push have in common while
// they are generated (a push generates its views in the order of their keys, so views
// whose keys share a prefix are generated one after the other) and can drop it after.
type PushEnder interface {
	// PushEnded is called once every view of a push is generated and marshaled.
	PushEnded()
}

func (s *Server) pushEnded() {
	if pe, ok := s.gen.(PushEnder); ok {
		pe.PushEnded()
	}
}
