package discovery

// drop forgets a source whose problems no longer apply (the view of proxies
// that are gone), updating the problems gauge.
func (l *problemLog) drop(source string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.sources[source]; !ok {
		return
	}
	delete(l.sources, source)
	total := map[string]bool{}
	for _, ps := range l.sources {
		for text := range ps {
			total[text] = true
		}
	}
	l.metrics.problems.Set(float64(len(total)))
}
