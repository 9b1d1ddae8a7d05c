package xds

import "google.golang.org/grpc/mem"

// requestBuffers is the pool gRPC reads requests into. A SotW request names every
// resource it subscribes to, and every ACK names them again: a thousand EDS names are
// about 45 KiB. gRPC's default pool has no size between 32 KiB and 1 MiB, so each such
// request took a 1 MiB buffer and cleared all of it before use (scale benchmark, 1000
// proxies: two such requests each in a cold sync; profiled, the clearing under the
// pool went from 0.12 to 0.05 CPU s). The tiers in between hold a request in at most
// twice its size.
var requestBuffers = mem.NewTieredBufferPool(256, 4<<10, 16<<10, 32<<10, 64<<10, 128<<10, 256<<10, 512<<10, 1<<20)
