package xds

import (
	"slices"
	"sync"

	"google.golang.org/grpc/mem"
)

// requestBuffers is the pool the codec gathers a request into when gRPC read it in
// more than one frame. A SotW request names every resource it subscribes to, and every
// ACK names them again: a thousand EDS names are about 45 KiB, read as several 16 KiB
// frames. gRPC's default pool has no size between 32 KiB and 1 MiB and clears a
// buffer's whole capacity before handing it out, so each such request took and cleared
// 1 MiB (scale benchmark, 1000 proxies: two such requests each in a cold sync). These
// tiers hold a request in at most twice its size, and a buffer is not cleared: the
// request is copied over exactly the length handed out, and nothing reads past it.
var requestBuffers = newDirtyTiers(256, 4<<10, 16<<10, 32<<10, 64<<10, 128<<10, 256<<10, 512<<10, 1<<20)

// dirtyTiers is a mem.BufferPool of fixed-size tiers whose buffers are handed out
// as they were put back: for callers that overwrite all they are given.
type dirtyTiers struct {
	sizes []int
	pools []sync.Pool
}

var _ mem.BufferPool = (*dirtyTiers)(nil)

func newDirtyTiers(sizes ...int) *dirtyTiers {
	sizes = slices.Sorted(slices.Values(sizes))
	return &dirtyTiers{sizes: slices.Compact(sizes), pools: make([]sync.Pool, len(sizes))}
}

// Get returns a buffer of length size, from the smallest tier that holds it; a size
// beyond the largest tier is allocated and not pooled.
func (p *dirtyTiers) Get(size int) *[]byte {
	i, _ := slices.BinarySearch(p.sizes, size)
	if i == len(p.sizes) {
		b := make([]byte, size)
		return &b
	}
	if b, ok := p.pools[i].Get().(*[]byte); ok {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size, p.sizes[i])
	return &b
}

// Put keeps a buffer whose capacity is a tier's size; others are left to the GC.
func (p *dirtyTiers) Put(b *[]byte) {
	if i, ok := slices.BinarySearch(p.sizes, cap(*b)); ok {
		p.pools[i].Put(b)
	}
}
