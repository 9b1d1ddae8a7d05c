package agent

import (
	"context"
	"errors"
	"sync/atomic"
)

// runEnvoy runs the sidecar: the xDS proxy and the status server at once,
// the certificates (SDS) throughout, Envoy once the first certificate and
// its bootstrap exist. It returns when Envoy exits on its own (a
// ProxyExitError), or, once ctx is done, after draining and stopping Envoy.
// Certificates keep being served while Envoy drains.
func (a *agent) runEnvoy(ctx context.Context) error {
	log := a.opts.Logger.WithValues("identity", a.id.String())
	e := &a.opts.Envoy
	probers, err := parseAppProbers(e.AppProbers)
	if err != nil {
		return err
	}
	xds, err := startXDSProxy(e.XDSProxySocket, a.ca, log.WithName("xds-proxy"))
	if err != nil {
		return err
	}
	defer xds.stop()
	log.Info("proxying xDS", "socket", e.XDSProxySocket, "upstream", a.opts.CAAddress)

	var envoy atomic.Pointer[envoyProcess]
	var draining atomic.Bool
	ready := func() error {
		p := envoy.Load()
		switch {
		case draining.Load():
			return errors.New("draining")
		case p == nil:
			return errors.New("the proxy is not started: no certificate yet")
		case !p.running():
			return errors.New("the proxy exited")
		case !xds.listenersAcked():
			return errors.New("the proxy has not ACKed its listeners yet")
		}
		return nil
	}
	lis, err := listenStatus(e.StatusPort)
	if err != nil {
		return err
	}
	probeHost := "127.0.0.1"
	if len(a.opts.Bootstrap.InstanceIPs) > 0 {
		probeHost = a.opts.Bootstrap.InstanceIPs[0]
	}
	status := startStatusServer(lis, ready, probers, probeHost, log.WithName("status"))
	defer status.stop()

	certCtx, stopCerts := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCerts()
	certsDone := make(chan error, 1)
	go func() { certsDone <- a.runCertificates(certCtx) }()
	stopCertificates := func() error {
		stopCerts()
		return <-certsDone
	}

	select {
	case <-a.published:
	case err := <-certsDone:
		return err
	case <-ctx.Done():
		return stopCertificates()
	}
	p, err := startEnvoy(e.Binary, envoyArgs(&a.opts), log.WithName("envoy"))
	if err != nil {
		_ = stopCertificates()
		return err
	}
	envoy.Store(p)
	select {
	case <-p.done:
		err = p.exitError(false)
		log.Error(err, "Envoy exited; the agent exits with it")
	case <-ctx.Done():
		draining.Store(true)
		err = p.drain(e.AdminPort, e.DrainDuration)
		log.Info("Envoy stopped", "error", errString(err))
	}
	if certErr := stopCertificates(); err == nil {
		err = certErr
	}
	return err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
