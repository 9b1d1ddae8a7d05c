package xds

import (
	"bytes"
	"runtime"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// A response sent with a shared body must decode to exactly the response
// built for the stream, for both variants, including empty and odd resources.
func TestSharedBodyDecodesToTheWholeResponse(t *testing.T) {
	anys := []*anypb.Any{
		{TypeUrl: resourcev3.ClusterType, Value: []byte{0x0a, 0x01, 'a'}},
		{TypeUrl: resourcev3.ClusterType},                           // empty message
		{TypeUrl: resourcev3.ClusterType, Value: make([]byte, 300)}, // multi-byte length
	}
	deltas := []*discoveryv3.Resource{
		{Name: "a", Version: "1", Resource: anys[0]},
		{Name: "b", Version: "2", Resource: anys[1], Aliases: []string{"b2"}},
	}
	codec := sharedBodyCodec{encoding.GetCodecV2(protocodec.Name)}
	cases := []struct {
		name string
		full proto.Message
		msg  any
		into proto.Message
	}{
		{"sotw", &discoveryv3.DiscoveryResponse{VersionInfo: "v1", TypeUrl: resourcev3.ClusterType, Nonce: "7", Resources: anys}, nil, &discoveryv3.DiscoveryResponse{}},
		{"sotw empty list", &discoveryv3.DiscoveryResponse{VersionInfo: "v2", TypeUrl: resourcev3.ClusterType, Nonce: "8"}, nil, &discoveryv3.DiscoveryResponse{}},
		{"delta", &discoveryv3.DeltaDiscoveryResponse{SystemVersionInfo: "v1", TypeUrl: resourcev3.ClusterType, Nonce: "9", Resources: deltas, RemovedResources: []string{"x", "y"}}, nil, &discoveryv3.DeltaDiscoveryResponse{}},
	}
	for _, c := range cases {
		switch r := c.full.(type) {
		case *discoveryv3.DiscoveryResponse:
			var e sharedEncoding
			c.msg = sotwOutgoing(r, e.anys(r.Resources))
		case *discoveryv3.DeltaDiscoveryResponse:
			var e sharedEncoding
			c.msg = deltaOutgoing(r, e.deltas(r.Resources))
		}
		if _, ok := c.msg.(*outgoing); !ok {
			t.Fatalf("%s: not sent with a shared body: %T", c.name, c.msg)
		}
		bufs, err := codec.Marshal(c.msg)
		if err != nil {
			t.Fatalf("%s: marshal: %v", c.name, err)
		}
		wire := bufs.Materialize()
		if got, want := len(wire), encodedSize(c.msg); got != want {
			t.Errorf("%s: encodedSize %d, wire %d", c.name, want, got)
		}
		if err := proto.Unmarshal(wire, c.into); err != nil {
			t.Fatalf("%s: unmarshal: %v", c.name, err)
		}
		if !proto.Equal(c.into, c.full) {
			t.Errorf("%s: decoded\n%v\nwant\n%v", c.name, c.into, c.full)
		}
		// A stock codec sends the whole response too.
		stock, err := encoding.GetCodecV2(protocodec.Name).Marshal(c.msg)
		if err != nil {
			t.Fatalf("%s: stock codec: %v", c.name, err)
		}
		into := c.into.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(stock.Materialize(), into); err != nil || !proto.Equal(into, c.full) {
			t.Errorf("%s: stock codec sent %v (%v)", c.name, into, err)
		}
	}
}

// Any list, any per-stream fields: the shared encoding followed by the head
// decodes to the whole response.
func FuzzSharedBody(f *testing.F) {
	f.Add("type.googleapis.com/x", []byte("abc"), "", []byte{}, "v1", "7", "gone")
	f.Add("", []byte{}, "t", make([]byte, 200), "", "", "")
	f.Fuzz(func(t *testing.T, url1 string, val1 []byte, url2 string, val2 []byte, version, nonce, removed string) {
		anys := []*anypb.Any{{TypeUrl: url1, Value: val1}, {TypeUrl: url2, Value: val2}}
		codec := sharedBodyCodec{encoding.GetCodecV2(protocodec.Name)}
		check := func(full proto.Message, msg any) {
			bufs, err := codec.Marshal(msg)
			_, stockErr := encoding.GetCodecV2(protocodec.Name).Marshal(full)
			if (err != nil) != (stockErr != nil) {
				t.Fatalf("shared codec error %v, stock codec error %v", err, stockErr)
			}
			if err != nil {
				return // invalid UTF-8 in a string field: refused by both
			}
			got := full.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(bufs.Materialize(), got); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			if !proto.Equal(got, full) {
				t.Fatalf("decoded %v, want %v", got, full)
			}
		}
		var e sharedEncoding
		sotw := &discoveryv3.DiscoveryResponse{VersionInfo: version, Nonce: nonce, TypeUrl: url1, Resources: anys}
		check(sotw, sotwOutgoing(sotw, e.anys(anys)))
		deltas := []*discoveryv3.Resource{{Name: url1, Version: version, Resource: anys[0]}, {Name: url2, Resource: anys[1]}}
		var d sharedEncoding
		delta := &discoveryv3.DeltaDiscoveryResponse{SystemVersionInfo: version, Nonce: nonce, TypeUrl: url2, Resources: deltas, RemovedResources: []string{removed}}
		check(delta, deltaOutgoing(delta, d.deltas(deltas)))
	})
}

// A shared SotW body is written into one buffer of exactly its size.
func TestSharedBodyIsSizedUpFront(t *testing.T) {
	var list []*anypb.Any
	for i := range 300 {
		list = append(list, &anypb.Any{TypeUrl: resourcev3.ClusterType, Value: make([]byte, i)})
	}
	var e sharedEncoding
	b := e.anys(list).b
	if len(b) != sizeAnys(list) || cap(b) != len(b) {
		t.Fatalf("body of %d bytes in a buffer of %d, computed size %d", len(b), cap(b), sizeAnys(list))
	}
}

// A list sent once is not kept after its response is sent: asked again (after a
// collection), it is encoded again, the same bytes. From the second request on, it
// is kept: every later response shares that copy.
func TestSharedBodyIsKeptOnceSharedOnly(t *testing.T) {
	list := []*anypb.Any{{TypeUrl: resourcev3.ClusterType, Value: []byte("a")}, {TypeUrl: resourcev3.ClusterType, Value: []byte("b")}}
	var e sharedEncoding
	encodings := 0
	encode := func() []byte { encodings++; return appendAnys(nil, list) }
	want := bytes.Clone(e.get(encode).b) // the response is sent and dropped
	runtime.GC()
	if b := e.get(encode).b; encodings != 2 || !bytes.Equal(b, want) {
		t.Fatalf("%d encodings when asked again after the only response was sent, want 2, the same bytes", encodings)
	}
	for range 3 {
		runtime.GC()
		e.get(encode)
	}
	if encodings != 2 {
		t.Fatalf("%d encodings, want 2: once asked twice, the encoding is kept", encodings)
	}
}
