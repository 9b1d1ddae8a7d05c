package main

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func frames(b []byte, size int) mem.BufferSlice {
	var out mem.BufferSlice
	for len(b) > 0 {
		n := min(len(b), size)
		out = append(out, mem.SliceBuffer(append([]byte(nil), b[:n]...)))
		b = b[n:]
	}
	return out
}

func someAnys(t *testing.T, n int) []*anypb.Any {
	var out []*anypb.Any
	for i := range n {
		a, err := anypb.New(wrapperspb.String(string(rune('a'+i%26)) + "-resource"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// Two responses with the same resources and different nonces decode as proto decodes
// them, the second sharing the first's resources; read in one buffer or in frames.
func TestResponseCodecSharesResources(t *testing.T) {
	c := newResponseCodec()
	anys := someAnys(t, 300)
	var first []*anypb.Any
	for i, nonce := range []string{"1", "2", "3", "4"} { // kept from the second on
		want := &discoveryv3.DiscoveryResponse{VersionInfo: "v7", Resources: anys, TypeUrl: "type.googleapis.com/google.protobuf.StringValue", Nonce: nonce}
		b, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		data := frames(b, len(b))
		if i > 0 {
			data = frames(b, 1000)
		}
		got := &discoveryv3.DiscoveryResponse{}
		if err := c.Unmarshal(data, got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("response %s decoded as %v", nonce, got)
		}
		switch {
		case i == 1:
			first = got.Resources
		case i > 1 && &got.Resources[0] != &first[0]:
			t.Fatalf("response %s did not share the resources of the second", nonce)
		}
	}

	delta := &discoveryv3.DeltaDiscoveryResponse{SystemVersionInfo: "s", TypeUrl: "t", Nonce: "9", RemovedResources: []string{"gone"}}
	for i, a := range anys[:5] {
		delta.Resources = append(delta.Resources, &discoveryv3.Resource{Name: string(rune('a' + i)), Version: "1", Resource: a})
	}
	b, err := proto.Marshal(delta)
	if err != nil {
		t.Fatal(err)
	}
	got := &discoveryv3.DeltaDiscoveryResponse{}
	if err := c.Unmarshal(frames(b, 64), got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, delta) {
		t.Fatalf("delta response decoded as %v", got)
	}
}

// Resources not in one run of entries (an encoder may interleave fields) are decoded by
// proto alone; so is a malformed response, with proto's error.
func TestResponseCodecFallsBackToProto(t *testing.T) {
	anys := someAnys(t, 2)
	var b []byte
	for i, a := range anys {
		ab, err := proto.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		b = protowire.AppendTag(b, resourcesField, protowire.BytesType)
		b = protowire.AppendBytes(b, ab)
		if i == 0 {
			b = protowire.AppendTag(b, 5, protowire.BytesType) // nonce, between the resources
			b = protowire.AppendString(b, "n")
		}
	}
	got := &discoveryv3.DiscoveryResponse{}
	if err := newResponseCodec().Unmarshal(frames(b, len(b)), got); err != nil {
		t.Fatal(err)
	}
	if want := (&discoveryv3.DiscoveryResponse{Resources: anys, Nonce: "n"}); !proto.Equal(got, want) {
		t.Fatalf("interleaved response decoded as %v", got)
	}
	if err := newResponseCodec().Unmarshal(frames(b[:len(b)-3], len(b)), &discoveryv3.DiscoveryResponse{}); err == nil {
		t.Fatal("a truncated response decoded without error")
	}
}

// A thousand clients receiving the same bytes at once decode them twice at most: the
// first alone, the second for all (the others wait for it).
func TestSharedListsDecodeOnceForConcurrentClients(t *testing.T) {
	var lists sharedLists[int]
	var parses atomic.Int64
	parse := func(b []byte) ([]int, error) {
		parses.Add(1)
		time.Sleep(time.Millisecond)
		return []int{len(b)}, nil
	}
	raw := []byte("the same resources")
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			if l, err := lists.get(raw, parse); err != nil || len(l) != 1 || l[0] != len(raw) {
				t.Errorf("got %v, %v", l, err)
			}
		})
	}
	wg.Wait()
	if n := parses.Load(); n > 2 {
		t.Fatalf("the same bytes were decoded %d times", n)
	}
}

// A resource a thousand clients receive at once is summarized once, and found by
// pointer afterwards.
func TestParseCacheParsesOnceForConcurrentClients(t *testing.T) {
	p := newParseCache()
	a := someAnys(t, 1)[0]
	var parses atomic.Int64
	parse := func(b []byte) (any, error) {
		parses.Add(1)
		time.Sleep(time.Millisecond)
		return len(b), nil
	}
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			if v := p.get(tRDS, a, parse); v != len(a.GetValue()) {
				t.Errorf("got %v", v)
			}
		})
	}
	wg.Wait()
	if n := parses.Load(); n != 1 {
		t.Fatalf("the resource was decoded %d times", n)
	}
	if _, ok := p.byAny.Load(a); !ok {
		t.Fatal("the summary is not found by pointer")
	}
}
