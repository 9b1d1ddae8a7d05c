package main

import (
	"context"
	"fmt"

	"loom.dev/loom/test/bench/grpcfloor/floor"
)

// floorBytes are what the floor sends each client: loom's (SotW) cold sync
// and one VirtualService change, as its clients received them on average.
// change is 0 when no change ran.
func floorBytes(loom *runResult, clients int) (cold, change int, err error) {
	if loom == nil {
		return 0, 0, fmt.Errorf("loom's run did not complete, so there are no bytes to measure the floor with")
	}
	if loom.synced == 0 || loom.coldSyncBytes < int64(loom.synced) {
		return 0, 0, fmt.Errorf("loom's cold sync received %d bytes at %d clients: nothing to measure the floor with", loom.coldSyncBytes, loom.synced)
	}
	cold = int(loom.coldSyncBytes / int64(loom.synced))
	if loom.vs.changes > 0 && clients > 0 {
		change = int(loom.vs.bytes / int64(loom.vs.changes*clients))
	}
	return cold, change, nil
}

// measureFloor runs the gRPC floor with loom's bytes, the run's clients and timeouts.
func (d *driver) measureFloor(ctx context.Context, loom *runResult) (*floor.Result, error) {
	cold, change, err := floorBytes(loom, d.opts.clients)
	if err != nil {
		return nil, err
	}
	d.logf("=== gRPC floor: %d bytes to each of %d streams, then %d bytes to each per change, %d changes", cold, d.opts.clients, change, d.opts.changes)
	res, err := floor.Run(ctx, floor.Options{
		Binary: d.bins.floor, Clients: d.opts.clients, Conns: d.opts.conns,
		ColdBytes: cold, ChangeBytes: change, Changes: d.opts.changes,
		Settle: d.opts.settle, SyncTimeout: d.opts.syncTimeout, ChangeTimeout: d.opts.changeTimeout,
		LogDir: d.dir,
	})
	if err != nil {
		return nil, err
	}
	d.logf("gRPC floor: cold sync %.2fs (server CPU %.2fs); change p50 %.0f ms p99 %.0f ms (server CPU %.2fs per change)",
		res.ColdSyncS, res.ColdServerCPUS, res.ChangeP(50), res.ChangeP(99), res.ChangeServerCPUPerChange())
	return res, nil
}
