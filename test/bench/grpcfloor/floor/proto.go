// Package floor measures what moving bytes costs on this machine before any
// control plane does anything: a gRPC-Go server process that sends raw bytes
// (no protobuf work) to M client streams in a separate client process, the
// way the scale benchmark's control planes and simulated sidecars run. It
// measures a cold sync (each stream opens and receives its bytes, in one
// message or, as an xDS client, in several, each after its round of
// requests: Exchange) and pushes (every open stream is sent one message at
// once), with the server's CPU for each. The grpcfloor command and the scale
// benchmark (test/bench/scale) both run it through Run.
package floor

// The two processes speak JSON lines: commands on stdin, events on stdout.
// Times are Unix nanoseconds of the machine's wall clock, which every
// process shares.
const (
	cmdPush = "push" // server: send a message of Bytes bytes to every open stream now
	cmdCPU  = "cpu"  // server: report the process's CPU seconds

	evReady    = "ready"    // server: listening on Addr
	evPushed   = "pushed"   // server: the push began at T and went to Streams streams
	evCPU      = "cpu"      // server: CPUSeconds
	evStarted  = "started"  // clients: they began to connect at T
	evReceived = "received" // clients: every client has its message number Seq (0: the cold sync); Times per client
	evError    = "error"
)

type command struct {
	Cmd   string `json:"cmd"`
	Bytes int    `json:"bytes,omitempty"`
}

type event struct {
	Event      string  `json:"event"`
	Addr       string  `json:"addr,omitempty"`
	T          int64   `json:"t,omitempty"`
	Seq        int     `json:"seq,omitempty"`
	Times      []int64 `json:"times,omitempty"`
	Streams    int     `json:"streams,omitempty"`
	Bytes      int64   `json:"bytes,omitempty"` // clients: payload bytes received since they started
	CPUSeconds float64 `json:"cpuSeconds,omitempty"`
	Message    string  `json:"message,omitempty"`
}
