package xds

import (
	"fmt"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

func sampleRequest(names int) *discoveryv3.DiscoveryRequest {
	req := &discoveryv3.DiscoveryRequest{
		VersionInfo: "v3", TypeUrl: edsType, ResponseNonce: "12",
		Node:        &corev3.Node{Id: "sidecar~10.0.0.1~a.ns~ns.svc.cluster.local", Cluster: "a"},
		ErrorDetail: &status.Status{Code: 3, Message: "rejected"},
	}
	for i := range names {
		req.ResourceNames = append(req.ResourceNames, fmt.Sprintf("outbound|8080||svc-%d.ns.svc.cluster.local", i))
	}
	return req
}

// Requests decode exactly as proto decodes them, and a list seen before is shared.
func TestRequestsDecodeAsProtoWithSharedNameLists(t *testing.T) {
	for _, n := range []int{0, 1, 1000} {
		wire, err := proto.Marshal(sampleRequest(n))
		if err != nil {
			t.Fatal(err)
		}
		a, b := &discoveryv3.DiscoveryRequest{}, &discoveryv3.DiscoveryRequest{}
		if err := unmarshalRequest(wire, a); err != nil {
			t.Fatal(err)
		}
		if err := unmarshalRequest(wire, b); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(a, sampleRequest(n)) || !proto.Equal(b, sampleRequest(n)) {
			t.Fatalf("%d names: decoded %v", n, a)
		}
		if n > 0 && &a.ResourceNames[0] != &b.ResourceNames[0] {
			t.Fatalf("%d names: the same list is decoded twice", n)
		}
	}
}

func sampleDeltaRequest(names int) *discoveryv3.DeltaDiscoveryRequest {
	req := &discoveryv3.DeltaDiscoveryRequest{
		TypeUrl: edsType, ResponseNonce: "7", ResourceNamesUnsubscribe: []string{"gone"},
		InitialResourceVersions: map[string]string{"a": "1"},
		Node:                    &corev3.Node{Id: "sidecar~10.0.0.1~a.ns~ns.svc.cluster.local", Cluster: "a"},
	}
	req.ResourceNamesSubscribe = sampleRequest(names).ResourceNames
	return req
}

// Delta requests decode exactly as proto decodes them, and a subscribe list seen before
// is shared.
func TestDeltaRequestsDecodeAsProtoWithSharedNameLists(t *testing.T) {
	for _, n := range []int{0, 1, 1000} {
		wire, err := proto.Marshal(sampleDeltaRequest(n))
		if err != nil {
			t.Fatal(err)
		}
		a, b := &discoveryv3.DeltaDiscoveryRequest{}, &discoveryv3.DeltaDiscoveryRequest{}
		if err := unmarshalDeltaRequest(wire, a); err != nil {
			t.Fatal(err)
		}
		if err := (sharedBodyCodec{}).Unmarshal(frames(wire, 16<<10), b); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(a, sampleDeltaRequest(n)) || !proto.Equal(b, sampleDeltaRequest(n)) {
			t.Fatalf("%d names: decoded %v", n, a)
		}
		if n > 0 && &a.ResourceNamesSubscribe[0] != &b.ResourceNamesSubscribe[0] {
			t.Fatalf("%d names: the same list is decoded twice", n)
		}
	}
}

func FuzzDeltaRequestDecoding(f *testing.F) {
	for _, n := range []int{0, 2} {
		wire, _ := proto.Marshal(sampleDeltaRequest(n))
		f.Add(wire)
	}
	f.Add([]byte{0x1a, 0x02, 0xff, 0xfe})
	f.Fuzz(func(t *testing.T, wire []byte) {
		want, got := &discoveryv3.DeltaDiscoveryRequest{}, &discoveryv3.DeltaDiscoveryRequest{}
		werr, gerr := proto.Unmarshal(wire, want), unmarshalDeltaRequest(wire, got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("proto: %v, unmarshalDeltaRequest: %v", werr, gerr)
		}
		if werr == nil && !proto.Equal(want, got) {
			t.Fatalf("decoded %v, proto decodes %v", got, want)
		}
	})
}

func FuzzRequestDecoding(f *testing.F) {
	for _, n := range []int{0, 2} {
		wire, _ := proto.Marshal(sampleRequest(n))
		f.Add(wire)
	}
	f.Add([]byte{0x1a, 0x02, 0xff, 0xfe}) // resource_names with invalid UTF-8
	f.Add([]byte{0x18, 0x01})             // field 3 as a varint
	f.Fuzz(func(t *testing.T, wire []byte) {
		want, got := &discoveryv3.DiscoveryRequest{}, &discoveryv3.DiscoveryRequest{}
		werr, gerr := proto.Unmarshal(wire, want), unmarshalRequest(wire, got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("proto: %v, unmarshalRequest: %v", werr, gerr)
		}
		if werr == nil && !proto.Equal(want, got) {
			t.Fatalf("decoded %v, proto decodes %v", got, want)
		}
	})
}

func BenchmarkRequestDecoding(b *testing.B) {
	wire, _ := proto.Marshal(sampleRequest(1000))
	b.Run("proto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = proto.Unmarshal(wire, &discoveryv3.DiscoveryRequest{})
		}
	})
	b.Run("shared_lists", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = unmarshalRequest(wire, &discoveryv3.DiscoveryRequest{})
		}
	})
}
