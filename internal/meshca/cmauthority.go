package meshca

import (
	"context"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
)

// cmRetryInterval is how soon a failed serving certificate request is tried again while
// the CA has none (it serves nothing until then).
const cmRetryInterval = 5 * time.Second

// issuerRef fills cert-manager's defaults into ref and checks it.
func issuerRef(ref cmmeta.IssuerReference) (cmmeta.IssuerReference, error) {
	if ref.Kind == "" {
		ref.Kind = cmapi.IssuerKind
	}
	if ref.Group == "" {
		ref.Group = "cert-manager.io"
	}
	switch {
	case ref.Name == "":
		return ref, fmt.Errorf("CA mode CertManager: the issuer's name is empty")
	case ref.Group == "cert-manager.io" && ref.Kind != cmapi.IssuerKind && ref.Kind != cmapi.ClusterIssuerKind:
		return ref, fmt.Errorf("CA mode CertManager: issuer kind %q: must be %s or %s", ref.Kind, cmapi.IssuerKind, cmapi.ClusterIssuerKind)
	}
	return ref, nil
}

// runCertManager is Start for mode CertManager: it keeps a serving certificate from the
// issuer (renewed at half its life), learns the trust bundle from it, publishes the bundle
// and the CA state, and deletes requests a stopped replica left behind.
func (a *Authority) runCertManager(ctx context.Context) error {
	go a.roots.run(ctx)
	for {
		next := reloadInterval
		if !a.refreshCertManager(ctx) {
			next = cmRetryInterval
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.trigger:
		case <-a.opts.Clock.After(next):
		}
	}
}

// refreshCertManager renews what is due and publishes the state; false when the CA still
// has no serving certificate.
func (a *Authority) refreshCertManager(ctx context.Context) bool {
	issuer := a.cm.requester.issuerName()
	if roots, _ := a.cm.state(); roots == nil {
		a.publishState(ctx, nil, nil, fmt.Sprintf("no trust bundle yet: waiting for issuer %s to sign the serving certificate", issuer))
	}
	problem := ""
	if a.serving.due() {
		if err := a.cm.renewServing(ctx); err != nil {
			problem = err.Error()
			if a.serving.current() != nil {
				problem += "; the last serving certificate stays"
			}
			a.opts.Logger.Error(err, "serving certificate not issued", "issuer", issuer)
		} else {
			a.opts.Logger.Info("serving certificate issued", "issuer", issuer, "expires", a.serving.current().Leaf.NotAfter)
		}
	}
	roots, chain := a.cm.state()
	if roots == nil {
		problem = "no trust bundle yet: " + problem
	} else {
		a.roots.publish(roots)
	}
	a.publishState(ctx, roots, chain, problem)
	a.cm.requester.sweepStale(ctx)
	return a.serving.current() != nil
}
