package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/utils/clock"

	"loom.dev/loom/pkg/model"
)

// Istio's values (pilot/pkg/model/jwks_resolver.go, pilot/pkg/features).
const (
	// jwksRefreshInterval is istiod's PILOT_JWT_PUB_KEY_REFRESH_INTERVAL default.
	jwksRefreshInterval = 20 * time.Minute
	// After a failed refresh the next comes sooner, doubling up to an hour.
	jwksRetryInterval    = time.Minute
	jwksMaxRetryInterval = time.Hour
	// jwksEvictAfter drops keys no policy asked for in that long.
	jwksEvictAfter = 7 * 24 * time.Hour
	// jwksDefaultTimeout is a JWT rule's timeout when it sets none.
	jwksDefaultTimeout = 5 * time.Second
	// jwksMaxBody bounds what a JWKS server can make Loom read.
	jwksMaxBody = 1 << 20
)

// jwksFetcher fetches the keys of JWT rules without inline jwks, as istiod
// does: a key set is fetched the first time a policy needs it (during the
// model rebuild, bounded by the rule's timeout), cached per source, and
// refreshed periodically; a failed fetch keeps the last good keys. The
// model inlines the keys, so translation stays pure.
type jwksFetcher struct {
	client *http.Client
	clock  clock.WithTicker
	// refresh is the period between refreshes when the last one succeeded.
	refresh time.Duration

	mu      sync.Mutex
	entries map[model.JWKSSource]*jwksEntry
	// changed is called when a refresh changed the keys or a fetch error.
	changed func()
	// retry asks run to fetch again, right away, the sources whose first
	// fetch failed (istiod does the same rather than wait for the period).
	retry chan struct{}
}

type jwksEntry struct {
	fetched  model.FetchedJWKS
	timeout  time.Duration
	lastUsed time.Time
}

func newJWKSFetcher(c clock.WithTicker) *jwksFetcher {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: refuseLinkLocal}
	return &jwksFetcher{
		client: &http.Client{Transport: &http.Transport{
			Proxy:             http.ProxyFromEnvironment,
			DialContext:       dialer.DialContext,
			DisableKeepAlives: true,
		}},
		clock:   c,
		refresh: jwksRefreshInterval,
		entries: map[model.JWKSSource]*jwksEntry{},
		retry:   make(chan struct{}, 1),
	}
}

// refuseLinkLocal keeps a jwksUri from reaching link-local addresses such
// as cloud metadata services (istiod blocks them too).
func refuseLinkLocal(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()) {
		return fmt.Errorf("connection to link-local address %s refused", ip)
	}
	return nil
}

func (f *jwksFetcher) onChange(fn func()) {
	f.mu.Lock()
	f.changed = fn
	f.mu.Unlock()
}

// jwksSources lists the sources the policies' rules need, with the timeout
// of a rule that names each (the longest, when several do).
func jwksSources(ras []*model.RequestAuthentication) map[model.JWKSSource]time.Duration {
	out := map[model.JWKSSource]time.Duration{}
	for _, ra := range ras {
		for _, rule := range ra.Spec.GetJwtRules() {
			src, ok := model.JWKSSourceOf(rule)
			if !ok || (src.URI == "" && src.Issuer == "") {
				continue
			}
			timeout := jwksDefaultTimeout
			if d := rule.GetTimeout(); d != nil && d.AsDuration() > 0 {
				timeout = d.AsDuration()
			}
			out[src] = max(out[src], timeout)
		}
	}
	return out
}

// resolve returns what is known of each source, fetching (concurrently)
// the ones never tried before.
func (f *jwksFetcher) resolve(ctx context.Context, sources map[model.JWKSSource]time.Duration) map[model.JWKSSource]model.FetchedJWKS {
	now := f.clock.Now()
	var missing []model.JWKSSource
	f.mu.Lock()
	for src, timeout := range sources {
		e, ok := f.entries[src]
		if !ok {
			missing = append(missing, src)
			continue
		}
		e.lastUsed, e.timeout = now, timeout
	}
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, src := range missing {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys, err := f.fetch(ctx, src, sources[src])
			e := &jwksEntry{fetched: model.FetchedJWKS{Keys: keys}, timeout: sources[src], lastUsed: now}
			if err != nil {
				e.fetched.Error = err.Error()
				select {
				case f.retry <- struct{}{}:
				default:
				}
			}
			f.mu.Lock()
			if _, raced := f.entries[src]; !raced {
				f.entries[src] = e
			}
			f.mu.Unlock()
		}()
	}
	wg.Wait()
	out := make(map[model.JWKSSource]model.FetchedJWKS, len(sources))
	f.mu.Lock()
	for src := range sources {
		if e, ok := f.entries[src]; ok {
			out[src] = e.fetched
		}
	}
	f.mu.Unlock()
	return out
}

// run refreshes the cached keys until ctx is done: every refresh period,
// or, after a failure, after a minute, doubling while failures continue.
// A source whose first fetch failed is fetched again at once.
func (f *jwksFetcher) run(ctx context.Context) {
	interval := f.refresh
	for {
		timer := f.clock.NewTimer(interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-f.retry:
			timer.Stop()
			if f.refreshSources(ctx, true) {
				interval = min(interval, jwksRetryInterval)
			}
			continue
		case <-timer.C():
		}
		switch failed := f.refreshAll(ctx); {
		case !failed:
			interval = f.refresh
		case interval >= f.refresh:
			interval = jwksRetryInterval
		default:
			interval = min(2*interval, jwksMaxRetryInterval)
		}
	}
}

// refreshAll fetches every source again, drops the ones no policy used in
// jwksEvictAfter, calls changed if anything differs, and reports whether
// any fetch failed.
func (f *jwksFetcher) refreshAll(ctx context.Context) (failed bool) {
	return f.refreshSources(ctx, false)
}

// refreshSources is refreshAll, limited to the sources that have no keys
// when onlyMissing is set.
func (f *jwksFetcher) refreshSources(ctx context.Context, onlyMissing bool) (failed bool) {
	now := f.clock.Now()
	f.mu.Lock()
	todo := map[model.JWKSSource]time.Duration{}
	for src, e := range f.entries {
		if now.Sub(e.lastUsed) >= jwksEvictAfter {
			delete(f.entries, src)
			continue
		}
		if !onlyMissing || e.fetched.Keys == "" {
			todo[src] = e.timeout
		}
	}
	f.mu.Unlock()
	type result struct {
		src  model.JWKSSource
		keys string
		err  error
	}
	results := make(chan result, len(todo))
	for src, timeout := range todo {
		go func() {
			keys, err := f.fetch(ctx, src, timeout)
			results <- result{src, keys, err}
		}()
	}
	changed := false
	for range todo {
		r := <-results
		f.mu.Lock()
		e, ok := f.entries[r.src]
		if ok {
			before := e.fetched
			if r.err != nil {
				failed = true
				e.fetched.Error = r.err.Error() // the last good keys stay
			} else {
				e.fetched = model.FetchedJWKS{Keys: r.keys}
			}
			changed = changed || e.fetched != before
		}
		f.mu.Unlock()
	}
	f.mu.Lock()
	notify := f.changed
	f.mu.Unlock()
	if changed && notify != nil {
		notify()
	}
	return failed
}

// fetch gets a source's key set: its jwksUri, or the jwks_uri of the
// issuer's OpenID discovery document. The answer must be a JWKS.
func (f *jwksFetcher) fetch(ctx context.Context, src model.JWKSSource, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	uri := src.URI
	if uri == "" {
		body, err := f.get(ctx, src.String())
		if err != nil {
			return "", fmt.Errorf("OpenID discovery of issuer %q: %w", src.Issuer, err)
		}
		var doc struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(body, &doc); err != nil || doc.JWKSURI == "" {
			return "", fmt.Errorf("OpenID discovery of issuer %q: no jwks_uri in %s", src.Issuer, src)
		}
		uri = doc.JWKSURI
	}
	body, err := f.get(ctx, uri)
	if err != nil {
		return "", err
	}
	if err := checkJWKS(body); err != nil {
		return "", fmt.Errorf("%s did not answer with a JSON Web Key Set: %w", uri, err)
	}
	return string(body), nil
}

func (f *jwksFetcher) get(ctx context.Context, uri string) ([]byte, error) {
	if !strings.HasPrefix(uri, "http://") && !strings.HasPrefix(uri, "https://") {
		return nil, fmt.Errorf("%q is not an http or https URL", uri)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > jwksMaxBody {
		return nil, fmt.Errorf("GET %s: answer larger than %d bytes", uri, jwksMaxBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("GET %s: status %d", uri, resp.StatusCode)
	}
	return body, nil
}

// checkJWKS accepts what istiod accepts: a JSON object whose "keys" is an
// array. Anything else (an error page, a document an attacker-chosen URI
// returns) is never inlined into proxy configuration.
func checkJWKS(body []byte) error {
	var doc struct {
		Keys *json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return err
	}
	if doc.Keys == nil {
		return errors.New(`no "keys"`)
	}
	var keys []json.RawMessage
	if err := json.Unmarshal(*doc.Keys, &keys); err != nil {
		return errors.New(`"keys" is not an array`)
	}
	return nil
}
