package discovery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	security "istio.io/api/security/v1beta1"
	clocktesting "k8s.io/utils/clock/testing"

	"loom.dev/loom/pkg/model"
)

// jwksServer serves a key set on loopback that the test can rotate or
// break.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	keys   string
	status int
	hits   atomic.Int32
}

func newJWKSServer(t *testing.T, keys string) *jwksServer {
	s := &jwksServer{keys: keys, status: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.WriteHeader(s.status)
		_, _ = w.Write([]byte(s.keys))
	})
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"issuer":"x","jwks_uri":"` + s.URL + `/jwks"}`))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	s.Server = httptest.NewServer(mux) // 127.0.0.1 only
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(status int, keys string) {
	s.mu.Lock()
	s.status, s.keys = status, keys
	s.mu.Unlock()
}

const (
	keysV1 = `{"keys":[{"kty":"RSA","kid":"v1","e":"AQAB","n":"AAAA"}]}`
	keysV2 = `{"keys":[{"kty":"RSA","kid":"v2","e":"AQAB","n":"BBBB"}]}`
)

func raFor(uri string) *model.RequestAuthentication {
	return &model.RequestAuthentication{
		Meta: model.Meta{Namespace: "foo", Name: "jwt"},
		Spec: &security.RequestAuthentication{JwtRules: []*security.JWTRule{{Issuer: "https://issuer.example", JwksUri: uri, Timeout: durationpb.New(time.Second)}}},
	}
}

// build resolves the policy's keys and builds the model as a rebuild does.
func build(t *testing.T, f *jwksFetcher, ra *model.RequestAuthentication) *model.Snapshot {
	t.Helper()
	in := model.Input{RequestAuthentications: []*model.RequestAuthentication{ra}}
	in.FetchedJWKS = f.resolve(context.Background(), jwksSources(in.RequestAuthentications))
	return model.Build(in)
}

func keysOf(t *testing.T, snap *model.Snapshot) string {
	t.Helper()
	rules := snap.JWTRulesFor("foo", nil)
	if len(rules) != 1 {
		t.Fatalf("%d rules", len(rules))
	}
	return rules[0].JWKS
}

func problemsOf(snap *model.Snapshot) string {
	var out []string
	for _, p := range snap.Problems() {
		out = append(out, p.Error())
	}
	return strings.Join(out, "\n")
}

// The lifecycle of one jwksUri: first fetch, a rotated key picked up by
// the refresh, the server failing (last good keys kept, problem naming the
// policy and the URI), then recovering.
func TestJWKSFetchRefreshAndOutage(t *testing.T) {
	srv := newJWKSServer(t, keysV1)
	f := newJWKSFetcher(clocktesting.NewFakeClock(time.Now()))
	var changes atomic.Int32
	f.onChange(func() { changes.Add(1) })
	ra := raFor(srv.URL + "/jwks")

	snap := build(t, f, ra)
	if got := keysOf(t, snap); got != keysV1 || problemsOf(snap) != "" {
		t.Fatalf("first fetch: keys %q, problems %q", got, problemsOf(snap))
	}
	build(t, f, ra)
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("a rebuild fetched again: %d fetches, want 1 (cached)", n)
	}

	srv.serve(http.StatusOK, keysV2)
	if failed := f.refreshAll(context.Background()); failed || changes.Load() != 1 {
		t.Fatalf("refresh: failed %v, %d change notifications", failed, changes.Load())
	}
	if got := keysOf(t, build(t, f, ra)); got != keysV2 {
		t.Errorf("after rotation: keys %q, want v2", got)
	}
	if f.refreshAll(context.Background()); changes.Load() != 1 {
		t.Errorf("an unchanged refresh notified: %d", changes.Load())
	}

	srv.serve(http.StatusServiceUnavailable, "down")
	if failed := f.refreshAll(context.Background()); !failed {
		t.Error("refresh against a failing server did not fail")
	}
	snap = build(t, f, ra)
	if got := keysOf(t, snap); got != keysV2 {
		t.Errorf("during the outage: keys %q, want the last good v2", got)
	}
	want := "RequestAuthentication foo/jwt: spec.jwtRules[0].jwksUri: refreshing the keys from " + srv.URL + "/jwks failed (GET " + srv.URL + "/jwks: status 503): the last keys fetched stay in use"
	if got := problemsOf(snap); got != want {
		t.Errorf("problem\n%s\nwant\n%s", got, want)
	}

	srv.serve(http.StatusOK, `<html>not keys</html>`)
	f.refreshAll(context.Background())
	if got := keysOf(t, build(t, f, ra)); got != keysV2 {
		t.Errorf("an answer that is not a JWKS replaced the keys: %q", got)
	}

	srv.serve(http.StatusOK, keysV1)
	f.refreshAll(context.Background())
	if snap := build(t, f, ra); keysOf(t, snap) != keysV1 || problemsOf(snap) != "" {
		t.Errorf("after recovery: keys %q, problems %q", keysOf(t, snap), problemsOf(snap))
	}
}

// Keys never fetched: the fail-closed key set, and a problem.
func TestJWKSNeverFetchedFailsClosed(t *testing.T) {
	srv := newJWKSServer(t, keysV1)
	srv.serve(http.StatusNotFound, "")
	f := newJWKSFetcher(clocktesting.NewFakeClock(time.Now()))
	snap := build(t, f, raFor(srv.URL+"/jwks"))
	if got := keysOf(t, snap); got != model.FailClosedJWKS {
		t.Errorf("keys %q, want the fail-closed set", got)
	}
	if got := problemsOf(snap); !strings.Contains(got, "foo/jwt: spec.jwtRules[0].jwksUri: keys could not be fetched from "+srv.URL+"/jwks") ||
		!strings.Contains(got, "failing closed") {
		t.Errorf("problem %q", got)
	}
	// The refresh that follows picks the keys up once the server has them.
	srv.serve(http.StatusOK, keysV1)
	f.refreshAll(context.Background())
	if got := keysOf(t, build(t, f, raFor(srv.URL+"/jwks"))); got != keysV1 {
		t.Errorf("after the server came up: %q", got)
	}
}

// A rule's timeout bounds the fetch.
func TestJWKSFetchTimeout(t *testing.T) {
	srv := newJWKSServer(t, keysV1)
	ra := raFor(srv.URL + "/slow")
	ra.Spec.JwtRules[0].Timeout = durationpb.New(100 * time.Millisecond)
	f := newJWKSFetcher(clocktesting.NewFakeClock(time.Now()))
	start := time.Now()
	snap := build(t, f, ra)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("fetch took %v with a 100ms timeout", d)
	}
	if keysOf(t, snap) != model.FailClosedJWKS || !strings.Contains(problemsOf(snap), "deadline exceeded") {
		t.Errorf("keys %q, problems %q", keysOf(t, snap), problemsOf(snap))
	}
}

// Without jwks or jwksUri the issuer's OpenID discovery document names the
// key set.
func TestJWKSOpenIDDiscovery(t *testing.T) {
	srv := newJWKSServer(t, keysV1)
	ra := raFor("")
	ra.Spec.JwtRules[0].Issuer = srv.URL + "/"
	f := newJWKSFetcher(clocktesting.NewFakeClock(time.Now()))
	if snap := build(t, f, ra); keysOf(t, snap) != keysV1 || problemsOf(snap) != "" {
		t.Errorf("keys %q, problems %q", keysOf(t, snap), problemsOf(snap))
	}
}

// run refreshes every refresh period on the injected clock, and a minute
// after a failure.
func TestJWKSRefreshesOnSchedule(t *testing.T) {
	srv := newJWKSServer(t, keysV1)
	clk := clocktesting.NewFakeClock(time.Now())
	f := newJWKSFetcher(clk)
	changed := make(chan struct{}, 10)
	f.onChange(func() { changed <- struct{}{} })
	build(t, f, raFor(srv.URL+"/jwks"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { f.run(ctx); close(done) }()
	step := func(d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !clk.HasWaiters() {
			if time.Now().After(deadline) {
				t.Fatal("run never waited on the clock")
			}
			time.Sleep(time.Millisecond)
		}
		clk.Step(d)
	}
	wait := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(5 * time.Second):
			t.Fatalf("no change notification: %s", what)
		}
	}
	srv.serve(http.StatusOK, keysV2)
	step(jwksRefreshInterval - time.Second)
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("refreshed before the period: %d fetches", n)
	}
	clk.Step(time.Second)
	wait("rotation after 20 minutes")
	srv.serve(http.StatusInternalServerError, "")
	step(jwksRefreshInterval)
	wait("failure")
	srv.serve(http.StatusOK, keysV1)
	step(jwksRetryInterval)
	wait("retry a minute after the failure")
	cancel()
	<-done
}

// A first fetch that failed is retried at once by run, not a refresh
// period later.
func TestJWKSRetriesAFailedFirstFetch(t *testing.T) {
	srv := newJWKSServer(t, keysV1)
	srv.serve(http.StatusServiceUnavailable, "")
	f := newJWKSFetcher(clocktesting.NewFakeClock(time.Now()))
	changed := make(chan struct{}, 10)
	f.onChange(func() { changed <- struct{}{} })
	if got := keysOf(t, build(t, f, raFor(srv.URL+"/jwks"))); got != model.FailClosedJWKS {
		t.Fatalf("keys %q", got)
	}
	srv.serve(http.StatusOK, keysV1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.run(ctx)
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("the failed fetch was not retried")
	}
	if got := keysOf(t, build(t, f, raFor(srv.URL+"/jwks"))); got != keysV1 {
		t.Errorf("after the retry: %q", got)
	}
}
