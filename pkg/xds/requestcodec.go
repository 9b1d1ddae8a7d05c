package xds

import (
	"bytes"
	"errors"
	"sync"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// A state-of-the-world client repeats its whole resource_names list in every request of
// a type, ACKs included, and thousands of clients of one view send the same list: a
// thousand names, decoded into a thousand fresh strings each time. Requests are decoded
// here with that list taken from a table of lists seen recently, when the bytes are the
// same, and decoded as proto would decode it otherwise. A delta client's first request of
// a type subscribes to the same names as the view's other streams, and is decoded the
// same way. The lists are shared: the server never modifies a request's names.

const resourceNamesField protowire.Number = 3

// nameLists is the table of recent resource_names lists, by the hash of their encoding.
type nameLists struct {
	mu    sync.Mutex
	lists map[uint64]*nameList
	bytes int // the encodings' total size, bounded by maxBytes
}

type nameList struct {
	raw   []byte // the encoding of the field's entries, tags included
	names []string
}

// nameListsMaxBytes bounds the table: when full, it starts over.
const nameListsMaxBytes = 8 << 20

var requestNames = &nameLists{}

func (t *nameLists) lookup(raw []byte) []string {
	h := xxhash.Sum64(raw)
	t.mu.Lock()
	defer t.mu.Unlock()
	if l := t.lists[h]; l != nil && bytes.Equal(l.raw, raw) {
		return l.names
	}
	return nil
}

func (t *nameLists) store(raw []byte, names []string) {
	if len(raw) > nameListsMaxBytes/4 {
		return
	}
	h := xxhash.Sum64(raw)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lists == nil || t.bytes+len(raw) > nameListsMaxBytes {
		t.lists, t.bytes = map[uint64]*nameList{}, 0
	}
	if old := t.lists[h]; old != nil {
		t.bytes -= len(old.raw)
	}
	t.lists[h] = &nameList{raw: bytes.Clone(raw), names: names}
	t.bytes += len(raw)
}

var errInvalidUTF8 = errors.New("proto: resource_names: string field contains invalid UTF-8")

// unmarshalRequest decodes a DiscoveryRequest as proto.Unmarshal does, sharing its
// resource_names list with earlier requests that carried the same one.
func unmarshalRequest(b []byte, req *discoveryv3.DiscoveryRequest) error {
	return unmarshalSharingNames(b, req, func(names []string) { req.ResourceNames = names })
}

// unmarshalDeltaRequest decodes a DeltaDiscoveryRequest as proto.Unmarshal does, sharing
// its resource_names_subscribe list (the same field number) the same way: a view's
// streams subscribe to the same names in their first request of a type.
func unmarshalDeltaRequest(b []byte, req *discoveryv3.DeltaDiscoveryRequest) error {
	return unmarshalSharingNames(b, req, func(names []string) { req.ResourceNamesSubscribe = names })
}

// unmarshalSharingNames decodes req, its field 3 (a list of names) through the table
// of recent lists; set stores that list in req.
func unmarshalSharingNames(b []byte, req proto.Message, set func([]string)) error {
	// Clients send the list in one run of entries; other layouts go to proto.
	start, end := -1, -1
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return proto.Unmarshal(b, req) // proto reports the error
		}
		m := protowire.ConsumeFieldValue(num, typ, b[i+n:])
		if m < 0 {
			return proto.Unmarshal(b, req)
		}
		if num == resourceNamesField && typ == protowire.BytesType {
			if start < 0 {
				start = i
			} else if end != i {
				return proto.Unmarshal(b, req)
			}
			end = i + n + m
		}
		i += n + m
	}
	if start < 0 {
		return proto.Unmarshal(b, req)
	}
	raw := b[start:end]
	rest := append(b[:start:start], b[end:]...)
	if err := proto.Unmarshal(rest, req); err != nil {
		return err
	}
	if names := requestNames.lookup(raw); names != nil {
		set(names)
		return nil
	}
	var names []string
	for in := raw; len(in) > 0; {
		_, _, n := protowire.ConsumeTag(in)
		v, m := protowire.ConsumeBytes(in[n:])
		if !utf8.Valid(v) {
			return errInvalidUTF8
		}
		names = append(names, string(v))
		in = in[n+m:]
	}
	requestNames.store(raw, names)
	set(names)
	return nil
}

// Unmarshal decodes SotW and delta requests sharing their name lists, everything else as
// proto does.
func (c sharedBodyCodec) Unmarshal(data mem.BufferSlice, v any) error {
	var decode func([]byte) error
	switch req := v.(type) {
	case *discoveryv3.DiscoveryRequest:
		decode = func(b []byte) error { return unmarshalRequest(b, req) }
	case *discoveryv3.DeltaDiscoveryRequest:
		decode = func(b []byte) error { return unmarshalDeltaRequest(b, req) }
	default:
		return c.CodecV2.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(requestBuffers)
	defer buf.Free()
	return decode(buf.ReadOnlyData())
}
