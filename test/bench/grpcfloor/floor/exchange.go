package floor

import (
	"flag"
	"fmt"
	"strconv"
)

// Exchange is what each stream's cold sync is: Requests messages from the
// client, RequestBytes in all, answered by Responses messages, ColdBytes in
// all, in rounds as an xDS client syncs (a request, its response, the ACK
// and the next request, the next response...): round i is the client's
// requests of round i, then the server's message i. The zero values of
// Responses and Requests mean one each: one request, one message.
type Exchange struct {
	ColdBytes    int
	Responses    int
	Requests     int
	RequestBytes int
}

func (e Exchange) validate() error {
	switch {
	case e.ColdBytes < 1:
		return fmt.Errorf("cold bytes must be at least 1, got %d", e.ColdBytes)
	case e.Responses < 0 || e.Requests < 0 || e.RequestBytes < 0:
		return fmt.Errorf("responses (%d), requests (%d) and request bytes (%d) cannot be negative", e.Responses, e.Requests, e.RequestBytes)
	case e.rounds() > e.ColdBytes:
		return fmt.Errorf("%d responses cannot carry %d cold bytes: each needs one at least", e.rounds(), e.ColdBytes)
	}
	return nil
}

func (e Exchange) rounds() int { return max(e.Responses, 1) }

func (e Exchange) requests() int { return max(e.Requests, 1) }

// responseBytes is the size of message i: ColdBytes split as evenly as whole bytes allow.
func (e Exchange) responseBytes(i int) int {
	return share(e.ColdBytes, e.rounds(), i+1) - share(e.ColdBytes, e.rounds(), i)
}

// requestsIn is how many requests round i sends: the requests spread as evenly
// as whole requests allow, rounded up, so the first round has one at least.
func (e Exchange) requestsIn(i int) int {
	q, r := e.requests(), e.rounds()
	return ceilShare(q, r, i+1) - ceilShare(q, r, i)
}

// request is one request's payload: RequestBytes split evenly over the requests.
func (e Exchange) request() []byte { return make([]byte, e.RequestBytes/e.requests()) }

func share(total, parts, i int) int { return int(int64(total) * int64(i) / int64(parts)) }

func ceilShare(total, parts, i int) int {
	return int((int64(total)*int64(i) + int64(parts) - 1) / int64(parts))
}

// flags registers the exchange's flags, which both processes take.
func (e *Exchange) flags(fs *flag.FlagSet) {
	fs.IntVar(&e.ColdBytes, "cold-bytes", 1<<20, "bytes each stream's cold sync receives in all")
	fs.IntVar(&e.Responses, "responses", 1, "messages the cold bytes are split into")
	fs.IntVar(&e.Requests, "requests", 1, "requests each client sends during its cold sync")
	fs.IntVar(&e.RequestBytes, "request-bytes", 0, "bytes of those requests in all")
}

func (e Exchange) args() []string {
	return []string{"--cold-bytes", strconv.Itoa(e.ColdBytes), "--responses", strconv.Itoa(e.rounds()),
		"--requests", strconv.Itoa(e.requests()), "--request-bytes", strconv.Itoa(e.RequestBytes)}
}
