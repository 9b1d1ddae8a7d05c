package xds

import "testing"

// A SotW request naming a thousand or more resources is read into a buffer of at most
// twice its size, not gRPC's default 1 MiB one.
func TestRequestBuffersFitListRequests(t *testing.T) {
	for _, size := range []int{45 << 10, 70 << 10, 200 << 10, 600 << 10} {
		buf := requestBuffers.Get(size)
		if len(*buf) != size || cap(*buf) > 2*size {
			t.Errorf("a %d KiB request gets a buffer of length %d KiB and capacity %d KiB", size>>10, len(*buf)>>10, cap(*buf)>>10)
		}
		requestBuffers.Put(buf)
	}
}
