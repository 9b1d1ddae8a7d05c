package xds

import (
	"bytes"
	"fmt"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// A SotW request naming a thousand or more resources is gathered into a buffer of at
// most twice its size, not gRPC's default 1 MiB one.
func TestRequestBuffersFitListRequests(t *testing.T) {
	for _, size := range []int{1, 256, 45 << 10, 70 << 10, 200 << 10, 600 << 10, 1 << 20, 3 << 20} {
		buf := requestBuffers.Get(size)
		if len(*buf) != size || cap(*buf) > max(2*size, 256) {
			t.Errorf("a %d B request gets a buffer of length %d and capacity %d", size, len(*buf), cap(*buf))
		}
		requestBuffers.Put(buf)
	}
}

func TestDirtyTiersReuseWithoutClearing(t *testing.T) {
	p := newDirtyTiers(16, 64)
	b := p.Get(40)
	if len(*b) != 40 || cap(*b) != 64 {
		t.Fatalf("got length %d capacity %d, want 40 and 64", len(*b), cap(*b))
	}
	copy(*b, "kept")
	p.Put(b)
	odd := make([]byte, 10, 20) // no tier's size: not pooled
	p.Put(&odd)
	// sync.Pool may drop what it holds at any GC: only a reused buffer is checked.
	if again := p.Get(64); &(*again)[0] == &(*b)[0] && string((*again)[:4]) != "kept" {
		t.Errorf("a reused buffer was cleared: %q", (*again)[:4])
	}
	if small := p.Get(8); cap(*small) != 16 {
		t.Errorf("a request of 8 bytes got capacity %d, want the 16-byte tier", cap(*small))
	}
}

// frames splits b into buffers of size bytes at most, as gRPC reads a message in frames.
func frames(b []byte, size int) mem.BufferSlice {
	var out mem.BufferSlice
	for len(b) > 0 {
		n := min(len(b), size)
		out = append(out, mem.SliceBuffer(bytes.Clone(b[:n])))
		b = b[n:]
	}
	return out
}

// A request gRPC read in several frames decodes as proto decodes it.
func TestCodecDecodesARequestReadInFrames(t *testing.T) {
	want := &discoveryv3.DiscoveryRequest{VersionInfo: "v1", ResponseNonce: "n1", TypeUrl: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"}
	for i := range 1000 {
		want.ResourceNames = append(want.ResourceNames, "outbound|80||service-"+string(rune('a'+i%26))+".namespace.svc.cluster.local")
	}
	b, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	frames := frames(b, 16<<10)
	if len(frames) < 2 {
		t.Fatalf("the request is %d bytes, one frame", len(b))
	}
	for range 3 { // the second and third decode reuse the buffer the first put back
		got := &discoveryv3.DiscoveryRequest{}
		if err := (sharedBodyCodec{}).Unmarshal(frames, got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("decoded %v", got)
		}
	}
}

// A thousand-name SotW request read in 16 KiB frames, as a cold sync's EDS request and ACK arrive.
func BenchmarkUnmarshalListRequestInFrames(b *testing.B) {
	req := &discoveryv3.DiscoveryRequest{VersionInfo: "v1", ResponseNonce: "n1", TypeUrl: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"}
	for i := range 1000 {
		req.ResourceNames = append(req.ResourceNames, fmt.Sprintf("outbound|80||service-%d.namespace-%d.svc.cluster.local", i, i%10))
	}
	raw, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	frames := frames(raw, 16<<10)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := (sharedBodyCodec{}).Unmarshal(frames, &discoveryv3.DiscoveryRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}
