package xds

import "testing"

func TestConvergenceFollowAcksAndNacks(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, cluster("c0", 1))
	e.trigger()
	c := e.sotw("node-a", "default")
	c.request(cdsType)
	first := c.recv()
	waitFor(t, "a pending response", func() bool {
		ps := e.srv.Convergence()
		return len(ps) == 1 && !ps[0].Current && ps[0].Types[cdsType].Pending
	})
	c.ack(first)
	waitFor(t, "the proxy current", func() bool {
		ps := e.srv.Convergence()
		return len(ps) == 1 && ps[0].Current && ps[0].Types[cdsType].AckedVersion == first.GetVersionInfo()
	})
	if ps := e.srv.Convergence(); ps[0].NodeID != "node-a" || ps[0].ViewKey != "default" {
		t.Fatalf("summary names the wrong proxy or view: %+v", ps[0])
	}

	e.gen.set("default", cdsType, cluster("c0", 2))
	e.trigger()
	second := c.recv()
	c.nack(second, first.GetVersionInfo(), "cluster c0: bad thing")
	waitFor(t, "the NACK reported", func() bool {
		ps := e.srv.Convergence()
		msg, rejected := ps[0].Rejection()
		return !ps[0].Current && rejected && msg == "cluster c0: bad thing" &&
			ps[0].Types[cdsType].AckedVersion == first.GetVersionInfo()
	})

	e.gen.set("default", cdsType, cluster("c0", 3))
	e.trigger()
	c.ack(c.recv())
	waitFor(t, "recovered", func() bool {
		ps := e.srv.Convergence()
		_, rejected := ps[0].Rejection()
		return ps[0].Current && !rejected
	})
}
