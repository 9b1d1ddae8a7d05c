package xds

import (
	"sync"
	"unicode/utf8"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Most responses of a push carry a list many streams send unchanged: a
// view's whole set of a type, or the push's changes. Such a list is encoded
// once, as the repeated `resources` field (number 2 in both
// DiscoveryResponse and DeltaDiscoveryResponse), and each stream encodes
// only its few own fields (version, nonce, removed names) after it: a proto
// message's encoding is the concatenation of its fields' encodings, in any
// order. Without this, gRPC encodes a fresh copy of a megabyte-sized
// response into a fresh buffer for every stream.

const resourcesField protowire.Number = 2

// encodedOnce is the encoding of one shared list, computed on first use.
// A list that cannot be encoded gives nil: the response then goes through
// the stock codec, which reports the same error.
type encodedOnce struct {
	once sync.Once
	b    []byte
}

func (e *encodedOnce) anys(list []*anypb.Any) []byte {
	e.once.Do(func() { e.b = appendAnys(make([]byte, 0, sizeAnys(list)), list) })
	return e.b
}

// sizeAnys is the size of appendAnys' encoding of list, so that it is written into one
// buffer of the right size instead of one grown step by step to megabytes.
func sizeAnys(list []*anypb.Any) int {
	total := 0
	for _, a := range list {
		n := anySize(a)
		total += protowire.SizeTag(resourcesField) + protowire.SizeBytes(n)
	}
	return total
}

func anySize(a *anypb.Any) int {
	n := 0
	if a.TypeUrl != "" {
		n += protowire.SizeTag(1) + protowire.SizeBytes(len(a.TypeUrl))
	}
	if len(a.Value) > 0 {
		n += protowire.SizeTag(2) + protowire.SizeBytes(len(a.Value))
	}
	return n
}

func (e *encodedOnce) deltas(list []*discoveryv3.Resource) []byte {
	e.once.Do(func() { e.b = appendDeltaResources([]byte{}, list) })
	return e.b
}

// appendAnys encodes list as the resources field, or returns nil if a type
// URL is not valid UTF-8 (proto refuses to send such a string).
func appendAnys(b []byte, list []*anypb.Any) []byte {
	for _, a := range list {
		if !utf8.ValidString(a.TypeUrl) {
			return nil
		}
		n := anySize(a)
		b = protowire.AppendTag(b, resourcesField, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
		if a.TypeUrl != "" {
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendString(b, a.TypeUrl)
		}
		if len(a.Value) > 0 {
			b = protowire.AppendTag(b, 2, protowire.BytesType)
			b = protowire.AppendBytes(b, a.Value)
		}
	}
	return b
}

// appendDeltaResources encodes list as the resources field, or returns nil
// if proto cannot marshal one of them.
func appendDeltaResources(b []byte, list []*discoveryv3.Resource) []byte {
	for _, r := range list {
		enc, err := marshalOpts.Marshal(r)
		if err != nil {
			return nil
		}
		b = protowire.AppendTag(b, resourcesField, protowire.BytesType)
		b = protowire.AppendBytes(b, enc)
	}
	return b
}

// outgoing is a response whose resources field is already encoded. It is
// the whole response to any proto codec (the embedded message), so it is
// sent correctly whatever codec the gRPC server uses; the codec of
// GRPCServerOptions sends body followed by the encoding of head instead.
type outgoing struct {
	proto.Message               // the whole response
	head          proto.Message // the same response without its resources
	body          []byte        // the resources field, shared
}

func sotwOutgoing(resp *discoveryv3.DiscoveryResponse, body []byte) any {
	if body == nil {
		return resp
	}
	head := &discoveryv3.DiscoveryResponse{VersionInfo: resp.VersionInfo, TypeUrl: resp.TypeUrl, Nonce: resp.Nonce}
	return &outgoing{Message: resp, head: head, body: body}
}

func deltaOutgoing(resp *discoveryv3.DeltaDiscoveryResponse, body []byte) any {
	if body == nil {
		return resp
	}
	head := &discoveryv3.DeltaDiscoveryResponse{
		SystemVersionInfo: resp.SystemVersionInfo, TypeUrl: resp.TypeUrl, Nonce: resp.Nonce, RemovedResources: resp.RemovedResources,
	}
	return &outgoing{Message: resp, head: head, body: body}
}

// encodedSize is the size of a response on the wire, without re-walking a
// shared body.
func encodedSize(m any) int {
	if o, ok := m.(*outgoing); ok {
		return len(o.body) + proto.Size(o.head)
	}
	if pm, ok := m.(proto.Message); ok {
		return proto.Size(pm)
	}
	return 0
}

// GRPCServerOptions are the options the gRPC server serving this package's
// Server should be created with: a proto codec that sends shared bodies
// without copying them per stream.
func GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ForceServerCodecV2(sharedBodyCodec{encoding.GetCodecV2(protocodec.Name)}),
		// Responses are megabytes: gRPC's 32 KiB write buffer makes a write syscall per
		// 32 KiB per connection. 64 KiB takes about a quarter of the cold sync's CPU off
		// (scale benchmark, 1000 proxies); gRPC shares the buffer between flushes, so idle
		// connections hold none, but every connection writing at once holds one (96 KiB
		// took the benchmark's peak RSS over 300 MB). Reads are requests of a few KiB (tens
		// for a list of a thousand names): a 16 KiB read buffer instead of 32 KiB, held by
		// every connection for its life, takes about 30 MB off the peak RSS of 1000 proxies.
		grpc.WriteBufferSize(64 << 10), grpc.ReadBufferSize(16 << 10)}
}

type sharedBodyCodec struct{ encoding.CodecV2 }

func (c sharedBodyCodec) Marshal(v any) (mem.BufferSlice, error) {
	o, ok := v.(*outgoing)
	if !ok {
		return c.CodecV2.Marshal(v)
	}
	head, err := c.CodecV2.Marshal(o.head)
	if err != nil {
		return nil, err
	}
	return append(mem.BufferSlice{mem.SliceBuffer(o.body)}, head...), nil
}
