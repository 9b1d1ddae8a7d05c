package main

import (
	"sync"

	"github.com/cespare/xxhash/v2"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// The clients share one machine with the control plane they measure, so their own CPU
// slows what they measure. A thousand clients of one view receive the same resources,
// a megabyte each in a cold sync: decoded by proto, every client would copy them into
// fresh messages (about half of the clients' CPU). responseCodec decodes a response's
// resources once per distinct encoding, whichever control plane sent it, and hands
// every client that receives the same bytes the same read-only list; the rest of the
// response (version, nonce, type) is decoded per response as proto decodes it.

// resourcesField is the resources field of DiscoveryResponse and DeltaDiscoveryResponse.
const resourcesField protowire.Number = 2

type responseCodec struct{ encoding.CodecV2 }

func newResponseCodec() responseCodec {
	return responseCodec{encoding.GetCodecV2(protocodec.Name)}
}

func (c responseCodec) Name() string { return protocodec.Name }

func (c responseCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *discoveryv3.DiscoveryResponse:
		return decodeSharing(data, m, sotwLists, func(l []*anypb.Any) { m.Resources = l },
			func(b []byte) ([]*anypb.Any, error) {
				var r discoveryv3.DiscoveryResponse
				err := proto.Unmarshal(b, &r)
				return r.Resources, err
			})
	case *discoveryv3.DeltaDiscoveryResponse:
		return decodeSharing(data, m, deltaLists, func(l []*discoveryv3.Resource) { m.Resources = l },
			func(b []byte) ([]*discoveryv3.Resource, error) {
				var r discoveryv3.DeltaDiscoveryResponse
				err := proto.Unmarshal(b, &r)
				return r.Resources, err
			})
	}
	return c.CodecV2.Unmarshal(data, v)
}

var (
	sotwLists  = &sharedLists[*anypb.Any]{}
	deltaLists = &sharedLists[*discoveryv3.Resource]{}
)

// decodeSharing decodes a response into msg, its resources from lists when their
// encoding was seen before. A response whose resources are not one run of entries is
// decoded by proto alone.
func decodeSharing[T any](data mem.BufferSlice, msg proto.Message, lists *sharedLists[T], set func([]T), parse func([]byte) ([]T, error)) error {
	b, release := gather(data)
	defer release()
	start, end, ok := resourcesRun(b)
	if !ok {
		return proto.Unmarshal(b, msg)
	}
	rest := append(b[:start:start], b[end:]...)
	if err := proto.Unmarshal(rest, msg); err != nil {
		return err
	}
	list, err := lists.get(b[start:end], parse)
	if err != nil {
		return err
	}
	set(list)
	return nil
}

// resourcesRun finds the resources field's entries: [start, end) when they are one
// run, as every encoder writes them.
func resourcesRun(b []byte) (start, end int, ok bool) {
	start, end = -1, -1
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return 0, 0, false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[i+n:])
		if m < 0 {
			return 0, 0, false
		}
		if num == resourcesField && typ == protowire.BytesType {
			if start < 0 {
				start = i
			} else if end != i {
				return 0, 0, false
			}
			end = i + n + m
		}
		i += n + m
	}
	return start, end, start >= 0
}

// sharedLists holds decoded resource lists by their encoding, up to maxListBytes of
// encodings; when full, it starts over. A list is kept from the second time its
// encoding arrives: a control plane that sends each client its own resources costs a
// hash per response, not a copy. Clients that receive a kept encoding while it is
// being decoded wait for that decoding: after a change, a thousand clients receive the
// same bytes at once.
type sharedLists[T any] struct {
	mu    sync.Mutex
	lists map[uint64]*sharedList[T]
	seen  map[uint64]bool
	bytes int
}

type sharedList[T any] struct {
	raw  []byte
	done chan struct{} // closed once list and err are set
	list []T
	err  error
}

const (
	maxListBytes = 256 << 20
	maxSeen      = 1 << 20
)

func (s *sharedLists[T]) get(raw []byte, parse func([]byte) ([]T, error)) ([]T, error) {
	h := xxhash.Sum64(raw)
	s.mu.Lock()
	if s.lists == nil || s.bytes+len(raw) > maxListBytes || len(s.seen) > maxSeen {
		s.lists, s.seen, s.bytes = map[uint64]*sharedList[T]{}, map[uint64]bool{}, 0
	}
	if l := s.lists[h]; l != nil {
		s.mu.Unlock()
		<-l.done
		if l.err == nil && string(l.raw) == string(raw) {
			return l.list, nil
		}
		return parse(raw) // a hash collision, or bytes proto refuses: decode them here
	}
	if !s.seen[h] {
		s.seen[h] = true
		s.mu.Unlock()
		return parse(raw)
	}
	l := &sharedList[T]{raw: append([]byte(nil), raw...), done: make(chan struct{})}
	s.lists[h] = l
	s.bytes += len(raw)
	s.mu.Unlock()
	l.list, l.err = parse(raw)
	close(l.done)
	return l.list, l.err
}

// gather returns the message's bytes in one slice: its only buffer, or a pooled copy
// (not cleared first: it is overwritten whole) to give back with release.
func gather(data mem.BufferSlice) (b []byte, release func()) {
	if len(data) == 1 {
		return data[0].ReadOnlyData(), func() {}
	}
	n := data.Len()
	p, _ := gatherBuffers.Get().(*[]byte)
	if p == nil || cap(*p) < n {
		buf := make([]byte, n)
		p = &buf
	}
	*p = (*p)[:n]
	data.CopyTo(*p)
	return *p, func() { gatherBuffers.Put(p) }
}

var gatherBuffers sync.Pool
