package floor

import (
	"fmt"
	"testing"
)

// TestExchangeRounds checks how an exchange spreads its bytes and requests
// over its rounds: every byte and request is sent once, sizes differ by one
// at most, and the first round has a request (a stream opens with one).
func TestExchangeRounds(t *testing.T) {
	for _, e := range []Exchange{
		{ColdBytes: 10},
		{ColdBytes: 1014003, Responses: 4, Requests: 8, RequestBytes: 97000},
		{ColdBytes: 7, Responses: 7, Requests: 3},
		{ColdBytes: 100, Responses: 3, Requests: 10},
		{ColdBytes: 5, Responses: 2, Requests: 2, RequestBytes: 1},
	} {
		t.Run(fmt.Sprintf("%+v", e), func(t *testing.T) {
			if err := e.validate(); err != nil {
				t.Fatal(err)
			}
			bytes, requests, smallest, largest := 0, 0, e.ColdBytes, 0
			for i := range e.rounds() {
				n := e.responseBytes(i)
				bytes += n
				smallest, largest = min(smallest, n), max(largest, n)
				if e.requestsIn(i) < 0 {
					t.Errorf("round %d sends %d requests", i, e.requestsIn(i))
				}
				requests += e.requestsIn(i)
			}
			if bytes != e.ColdBytes || requests != e.requests() || largest-smallest > 1 || smallest < 1 {
				t.Errorf("rounds carry %d bytes (want %d, sizes %d..%d) and %d requests (want %d)",
					bytes, e.ColdBytes, smallest, largest, requests, e.requests())
			}
			if e.requestsIn(0) < 1 {
				t.Errorf("the first round sends no request")
			}
			if got, want := len(e.request())*e.requests(), e.RequestBytes; got > want || want-got >= e.requests() {
				t.Errorf("requests carry %d bytes in all, want %d less the remainder", got, want)
			}
		})
	}
}
