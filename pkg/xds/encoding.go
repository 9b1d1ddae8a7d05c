package xds

import (
	"sync"
	"unicode/utf8"
	"weak"

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

// sharedEncoding is the encoding of one shared list, computed when a response
// needs it. A list sent to one stream (a view of one proxy) is kept only while the
// response carrying it is sent: kept for the life of the snapshot, it would double
// the memory the view's config takes. Once a second response asks for it (a view
// of many proxies), it is kept for the snapshot's life, so that its streams share
// one copy instead of encoding it again after every garbage collection. A list
// that cannot be encoded gives nil bytes: the response then goes through the
// stock codec, which reports the same error.
type sharedEncoding struct {
	mu     sync.Mutex
	asked  int
	weak   weak.Pointer[sharedBody]
	strong *sharedBody // set from the second request on
}

// sharedBody is a list's encoding; a response holds it until it is sent.
type sharedBody struct{ b []byte }

func (e *sharedEncoding) anys(list []*anypb.Any) *sharedBody {
	return e.get(func() []byte { return appendAnys(make([]byte, 0, sizeAnys(list)), list) })
}

func (e *sharedEncoding) get(encode func() []byte) *sharedBody {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.asked++
	if e.strong != nil {
		return e.strong
	}
	enc := e.weak.Value()
	if enc == nil {
		enc = &sharedBody{b: encode()}
		e.weak = weak.Make(enc)
	}
	if e.asked > 1 {
		e.strong = enc
	}
	return enc
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

func (e *sharedEncoding) deltas(list []*discoveryv3.Resource) *sharedBody {
	return e.get(func() []byte { return appendDeltaResources([]byte{}, list) })
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
	enc           *sharedBody   // body's, kept while the response is sent
}

func sotwOutgoing(resp *discoveryv3.DiscoveryResponse, enc *sharedBody) any {
	if enc == nil || enc.b == nil {
		return resp
	}
	head := &discoveryv3.DiscoveryResponse{VersionInfo: resp.VersionInfo, TypeUrl: resp.TypeUrl, Nonce: resp.Nonce}
	return &outgoing{Message: resp, head: head, body: enc.b, enc: enc}
}

func deltaOutgoing(resp *discoveryv3.DeltaDiscoveryResponse, enc *sharedBody) any {
	if enc == nil || enc.b == nil {
		return resp
	}
	head := &discoveryv3.DeltaDiscoveryResponse{
		SystemVersionInfo: resp.SystemVersionInfo, TypeUrl: resp.TypeUrl, Nonce: resp.Nonce, RemovedResources: resp.RemovedResources,
	}
	return &outgoing{Message: resp, head: head, body: enc.b, enc: enc}
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
