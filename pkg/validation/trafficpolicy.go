package validation

import (
	"math"

	"google.golang.org/protobuf/types/known/durationpb"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func trafficPolicy(r *Result, at *field.Path, tp *networking.TrafficPolicy) {
	if tp == nil {
		return
	}
	if tp.GetOutlierDetection() == nil && tp.GetConnectionPool() == nil && tp.GetLoadBalancer() == nil && tp.GetTls() == nil &&
		tp.GetPortLevelSettings() == nil && tp.GetTunnel() == nil && tp.GetProxyProtocol() == nil && tp.GetRetryBudget() == nil {
		r.errorf(at, "a traffic policy needs at least one field")
		return
	}
	if tp.GetTunnel() != nil && tp.GetProxyProtocol() != nil {
		r.errorf(at, "tunnel and proxyProtocol cannot both be set")
	}
	outlierDetection(r, at.Child("outlierDetection"), tp.GetOutlierDetection())
	connectionPool(r, at.Child("connectionPool"), tp.GetConnectionPool())
	loadBalancer(r, at.Child("loadBalancer"), tp.GetLoadBalancer())
	clientTLS(r, at.Child("tls"), tp.GetTls())
	if t := tp.GetTunnel(); t != nil {
		tat := at.Child("tunnel")
		if p := t.GetProtocol(); p != "" && p != "CONNECT" && p != "POST" {
			r.errorf(tat.Child("protocol"), "%q is neither CONNECT nor POST", p)
		}
		if fqdn(t.GetTargetHost()) != nil && !isIP(t.GetTargetHost()) {
			r.errorf(tat.Child("targetHost"), "%q is neither a host name nor an IP address", t.GetTargetHost())
		}
		r.check(tat.Child("targetPort"), port(int64(t.GetTargetPort())))
	}
	if v := tp.GetProxyProtocol().GetVersion(); v != 0 && v != 1 {
		r.errorf(at.Child("proxyProtocol", "version"), "unknown version %d", v)
	}
	for i, pl := range tp.GetPortLevelSettings() {
		pat := at.Child("portLevelSettings").Index(i)
		if pl.GetPort() == nil {
			r.errorf(pat.Child("port"), "required")
		}
		if pl.GetOutlierDetection() == nil && pl.GetConnectionPool() == nil && pl.GetLoadBalancer() == nil && pl.GetTls() == nil {
			r.errorf(pat, "a port traffic policy needs at least one field")
			continue
		}
		outlierDetection(r, pat.Child("outlierDetection"), pl.GetOutlierDetection())
		connectionPool(r, pat.Child("connectionPool"), pl.GetConnectionPool())
		loadBalancer(r, pat.Child("loadBalancer"), pl.GetLoadBalancer())
		clientTLS(r, pat.Child("tls"), pl.GetTls())
	}
}

func outlierDetection(r *Result, at *field.Path, od *networking.OutlierDetection) {
	if od == nil {
		return
	}
	positiveDuration(r, at.Child("baseEjectionTime"), od.GetBaseEjectionTime())
	positiveDuration(r, at.Child("interval"), od.GetInterval())
	//nolint:staticcheck // consecutiveErrors is deprecated: that is the warning.
	if od.GetConsecutiveErrors() != 0 {
		r.warnf(at.Child("consecutiveErrors"), "deprecated: use consecutiveGatewayErrors or consecutive5xxErrors")
	}
	if !od.GetSplitExternalLocalOriginErrors() && od.GetConsecutiveLocalOriginFailures().GetValue() > 0 {
		r.errorf(at.Child("consecutiveLocalOriginFailures"), "needs splitExternalLocalOriginErrors")
	}
	for _, p := range []struct {
		field string
		v     int32
	}{{"maxEjectionPercent", od.GetMaxEjectionPercent()}, {"minHealthPercent", od.GetMinHealthPercent()}} {
		if p.v < 0 || p.v > 100 {
			r.errorf(at.Child(p.field), "%d is not a percentage between 0 and 100", p.v)
		}
	}
}

func connectionPool(r *Result, at *field.Path, cp *networking.ConnectionPoolSettings) {
	if cp == nil {
		return
	}
	if cp.GetHttp() == nil && cp.GetTcp() == nil {
		r.errorf(at, "a connection pool needs http or tcp settings")
		return
	}
	if h := cp.GetHttp(); h != nil {
		hat := at.Child("http")
		for _, l := range []struct {
			field string
			v     int32
		}{{"http1MaxPendingRequests", h.GetHttp1MaxPendingRequests()}, {"http2MaxRequests", h.GetHttp2MaxRequests()},
			{"maxRequestsPerConnection", h.GetMaxRequestsPerConnection()}, {"maxRetries", h.GetMaxRetries()},
			{"maxConcurrentStreams", h.GetMaxConcurrentStreams()}} {
			if l.v < 0 {
				r.errorf(hat.Child(l.field), "%d must not be negative", l.v)
			}
		}
		istioDuration(r, hat.Child("idleTimeout"), h.GetIdleTimeout())
		if h.GetH2UpgradePolicy() == networking.ConnectionPoolSettings_HTTPSettings_UPGRADE && h.GetUseClientProtocol() {
			r.errorf(hat.Child("useClientProtocol"), "cannot be true when h2UpgradePolicy is UPGRADE")
		}
	}
	if t := cp.GetTcp(); t != nil {
		tat := at.Child("tcp")
		if t.GetMaxConnections() < 0 {
			r.errorf(tat.Child("maxConnections"), "%d must not be negative", t.GetMaxConnections())
		}
		positiveDuration(r, tat.Child("connectTimeout"), t.GetConnectTimeout())
		istioDuration(r, tat.Child("maxConnectionDuration"), t.GetMaxConnectionDuration())
		if d := t.GetIdleTimeout(); d.AsDuration() != 0 || Duration(d) != nil {
			istioDuration(r, tat.Child("idleTimeout"), d)
		}
		if ka := t.GetTcpKeepalive(); ka != nil {
			keepaliveSeconds(r, tat.Child("tcpKeepalive", "time"), ka.GetTime())
			keepaliveSeconds(r, tat.Child("tcpKeepalive", "interval"), ka.GetInterval())
		}
	}
}

// keepaliveSeconds checks a TCP keepalive duration as Istio does; the kernel takes whole
// seconds, and the translator uses the system default for less than 1s, hence a warning.
func keepaliveSeconds(r *Result, at *field.Path, d *durationpb.Duration) {
	if d == nil {
		return
	}
	n := len(r.Errors)
	istioDuration(r, at, d)
	if len(r.Errors) == n && (d.GetSeconds() < 1 || d.GetSeconds() > math.MaxUint32) {
		r.warnf(at, "%v is not between 1s and 2^32-1 seconds; the system default is used", d.AsDuration())
	}
}
