package agent

import (
	"crypto/x509"
	"time"
)

// Backoff paces retries: the n-th consecutive failure waits
// Initial * 2^(n-1), at most Max.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// DefaultBackoff retries after 1s, 2s, 4s, ... and then every 2 minutes.
var DefaultBackoff = Backoff{Initial: time.Second, Max: 2 * time.Minute}

// delay is the wait after failures consecutive failures (at least one).
func (b Backoff) delay(failures int) time.Duration {
	d := b.Initial
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// renewalTime is when a certificate is due for renewal: half-way through
// its validity, as Istio's agent does.
func renewalTime(cert *x509.Certificate) time.Time {
	return cert.NotBefore.Add(cert.NotAfter.Sub(cert.NotBefore) / 2)
}

// nextRenewal decides when to ask the CA next, given the certificate being
// served (nil before the first one), the time now and how many requests in
// a row have failed since the last success.
//
// Without failures it is the certificate's renewal time, but no sooner than
// the first backoff step: a CA that issues certificates already half spent
// (its clock far ahead, a tiny TTL) must not be asked in a busy loop. With
// no certificate yet it is now. After failures it is now plus the
// backoff: the agent keeps retrying, and keeps serving the current
// certificate while it is valid. An expired certificate changes nothing but
// the log: no restart would get one sooner, so retries go on at the cap.
func nextRenewal(cert *x509.Certificate, now time.Time, failures int, b Backoff) time.Time {
	if failures > 0 {
		return now.Add(b.delay(failures))
	}
	if cert == nil {
		return now
	}
	earliest := now.Add(b.Initial)
	if due := renewalTime(cert); due.After(earliest) {
		return due
	}
	return earliest
}
