// Package benchproto is the line protocol between the scale benchmark's
// driver (test/bench/scale) and its simulated ADS clients
// (test/bench/adsclients): the driver writes one JSON Command per line on the
// clients' stdin; the clients write one JSON Event per line on stdout. Times
// are Unix nanoseconds of the machine's wall clock, which both processes
// share.
package benchproto

// Commands.
const (
	// CmdExpect arms a marker: every client reports when it first receives
	// a resource satisfying it. Answered by EventArmed.
	CmdExpect = "expect"
	// CmdReport asks for a marker's results now (EventSeen, possibly
	// partial), e.g. after the driver's timeout.
	CmdReport = "report"
	// CmdStats asks for EventStats.
	CmdStats = "stats"
)

// Marker kinds.
const (
	// MarkerRoute: a RouteConfiguration has a virtual host answering Domain
	// whose routes send traffic to Cluster (directly or among weighted
	// clusters).
	MarkerRoute = "route"
	// MarkerEndpoint: the ClusterLoadAssignment named Cluster holds Address.
	MarkerEndpoint = "endpoint"
)

// Command is a line on the clients' stdin.
type Command struct {
	Cmd     string `json:"cmd"`
	ID      string `json:"id,omitempty"`
	Kind    string `json:"kind,omitempty"`
	Domain  string `json:"domain,omitempty"`
	Cluster string `json:"cluster,omitempty"`
	Address string `json:"address,omitempty"`
}

// Events.
const (
	EventStarted = "started" // T: when the clients began to connect
	EventSynced  = "synced"  // every client ACKed its full config; Times per client
	EventArmed   = "armed"   // a marker is armed
	EventSeen    = "seen"    // every client saw a marker (or CmdReport); Times per client, 0 = not seen
	EventStats   = "stats"
	EventError   = "error"
)

// Event is a line on the clients' stdout.
type Event struct {
	Event string `json:"event"`
	ID    string `json:"id,omitempty"`
	T     int64  `json:"t,omitempty"`
	// Times holds one time per client (0: not reached).
	Times []int64 `json:"times,omitempty"`
	// Counters since the clients started.
	BytesReceived int64   `json:"bytesReceived,omitempty"`
	Requests      int64   `json:"requests,omitempty"` // messages the clients sent
	BytesSent     int64   `json:"bytesSent,omitempty"`
	Responses     int64   `json:"responses,omitempty"`
	ACKs          int64   `json:"acks,omitempty"`
	Reconnects    int64   `json:"reconnects,omitempty"`
	StreamErrors  int64   `json:"streamErrors,omitempty"`
	CPUSeconds    float64 `json:"cpuSeconds,omitempty"`
	Message       string  `json:"message,omitempty"`
}
