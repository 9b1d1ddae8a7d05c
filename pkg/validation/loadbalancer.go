package validation

import (
	"math"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func loadBalancer(r *Result, at *field.Path, lb *networking.LoadBalancerSettings) {
	if lb == nil {
		return
	}
	if ch := lb.GetConsistentHash(); ch != nil {
		cat := at.Child("consistentHash")
		if _, ok := ch.GetHashKey().(*networking.LoadBalancerSettings_ConsistentHashLB_HttpHeaderName); ok {
			r.check(cat.Child("httpHeaderName"), HeaderName(ch.GetHttpHeaderName()))
		}
		if c := ch.GetHttpCookie(); c != nil {
			if c.GetName() == "" {
				r.errorf(cat.Child("httpCookie", "name"), "required")
			}
			r.check(cat.Child("httpCookie", "ttl"), Duration(c.GetTtl()))
			seen := map[string]bool{}
			for i, a := range c.GetAttributes() {
				switch {
				case a.GetName() == "":
					r.errorf(cat.Child("httpCookie", "attributes").Index(i).Child("name"), "required")
				case seen[a.GetName()]:
					r.errorf(cat.Child("httpCookie", "attributes").Index(i).Child("name"), "duplicate cookie attribute %q", a.GetName())
				}
				seen[a.GetName()] = true
			}
		}
		if _, ok := ch.GetHashKey().(*networking.LoadBalancerSettings_ConsistentHashLB_HttpQueryParameterName); ok && ch.GetHttpQueryParameterName() == "" {
			r.errorf(cat.Child("httpQueryParameterName"), "required")
		}
		//nolint:staticcheck // minimumRingSize is deprecated: that is the warning.
		if ch.GetMinimumRingSize() != 0 {
			r.warnf(cat.Child("minimumRingSize"), "deprecated: use ringHash")
			if ch.GetHashAlgorithm() != nil {
				r.errorf(cat.Child("minimumRingSize"), "cannot be combined with maglev or ringHash")
			}
		}
		if m := ch.GetMaglev(); m != nil {
			if size := m.GetTableSize(); size == 0 || size >= 5000011 || !isPrime(size) {
				r.errorf(cat.Child("maglev", "tableSize"), "%d must be a prime number below 5000011", size)
			}
		}
	}
	if lb.GetLocalityLbSetting() != nil && lb.GetZoneAwareLbSetting() != nil {
		r.errorf(at, "localityLbSetting and zoneAwareLbSetting cannot both be set")
	}
	localityLb(r, at.Child("localityLbSetting"), lb.GetLocalityLbSetting())
	if w := lb.GetWarmup(); w != nil {
		wat := at.Child("warmup")
		if w.GetDuration() == nil {
			r.errorf(wat.Child("duration"), "required")
		}
		istioDuration(r, wat.Child("duration"), w.GetDuration())
		if w.GetMinimumPercent().GetValue() > 100 {
			r.errorf(wat.Child("minimumPercent"), "%v is more than 100", w.GetMinimumPercent().GetValue())
		}
		if a := w.GetAggression(); a != nil && a.GetValue() <= 0 {
			r.errorf(wat.Child("aggression"), "must be positive")
		}
	}
}

// isPrime is Envoy's test for maglev table sizes.
func isPrime(x uint64) bool {
	if x != 0 && x < 4 {
		return true
	}
	if x&1 == 0 {
		return false
	}
	limit := uint64(math.Sqrt(float64(x)))
	for f := uint64(3); f <= limit; f += 2 {
		if x%f == 0 {
			return false
		}
	}
	return true
}

// localityLb applies Istio's rules: distribute or failover, not both; weights of a
// distribution add up to 100; localities are region/zone/subzone with "*" only last.
func localityLb(r *Result, at *field.Path, l *networking.LocalityLoadBalancerSetting) {
	if l == nil {
		return
	}
	if len(l.GetDistribute()) > 0 && len(l.GetFailover()) > 0 {
		r.errorf(at, "distribute and failover cannot both be set")
	}
	for i, d := range l.GetDistribute() {
		dat := at.Child("distribute").Index(i)
		r.check(dat.Child("from"), locality(d.GetFrom()))
		var sum uint32
		for to, w := range d.GetTo() {
			r.check(dat.Child("to").Key(to), locality(to))
			sum += w
		}
		if sum != 100 {
			r.errorf(dat.Child("to"), "weights add up to %d; they must add up to 100", sum)
		}
	}
	for i, f := range l.GetFailover() {
		if f.GetFrom() == f.GetTo() {
			r.errorf(at.Child("failover").Index(i), "failover from and to the same region %q", f.GetFrom())
		}
		if strings.Contains(f.GetFrom(), "/") || strings.Contains(f.GetTo(), "/") {
			r.errorf(at.Child("failover").Index(i), "failover names regions only (no zone)")
		}
	}
}

func locality(l string) error {
	if l == "" {
		return errString("empty locality")
	}
	parts := strings.Split(l, "/")
	if len(parts) > 3 {
		return errString("a locality is region/zone/subzone")
	}
	for i, p := range parts {
		if p == "" || p == "*" && i != len(parts)-1 {
			return errString("locality " + l + ": empty part, or * before the last part")
		}
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }
