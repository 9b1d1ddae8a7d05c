package main

import (
	"context"
	"fmt"

	"loom.dev/loom/test/bench/grpcfloor/floor"
)

// floorExchange is what the floor sends and receives per client: loom's
// (SotW) cold sync as its clients had it on average (bytes and messages
// received, requests sent), and the bytes of one VirtualService change.
// change is 0 when no change ran.
func floorExchange(loom *runResult, clients int) (ex floor.Exchange, change int, err error) {
	if loom == nil {
		return ex, 0, fmt.Errorf("loom's run did not complete, so there are no bytes to measure the floor with")
	}
	if loom.synced == 0 || loom.coldSyncBytes < int64(loom.synced) {
		return ex, 0, fmt.Errorf("loom's cold sync received %d bytes at %d clients: nothing to measure the floor with", loom.coldSyncBytes, loom.synced)
	}
	perClient := func(n int64) int { return int((n + int64(loom.synced)/2) / int64(loom.synced)) }
	ex = floor.Exchange{
		ColdBytes: perClient(loom.coldSyncBytes), Responses: max(perClient(loom.coldSyncResponses), 1),
		Requests: max(perClient(loom.coldSyncRequests), 1), RequestBytes: perClient(loom.coldSyncRequestBytes),
	}
	ex.Responses = min(ex.Responses, ex.ColdBytes)
	if loom.vs.changes > 0 && clients > 0 {
		change = int(loom.vs.bytes / int64(loom.vs.changes*clients))
	}
	return ex, change, nil
}

// measureFloor runs the gRPC floor with loom's exchange, the run's clients
// and timeouts, then its cold sync again as one message per client.
func (d *driver) measureFloor(ctx context.Context, loom *runResult) (exchange, oneMessage *floor.Result, err error) {
	ex, change, err := floorExchange(loom, d.opts.clients)
	if err != nil {
		return nil, nil, err
	}
	d.logf("=== gRPC floor: %d bytes in %d messages to each of %d streams (%d requests of %d bytes in all), then %d bytes to each per change, %d changes",
		ex.ColdBytes, ex.Responses, d.opts.clients, ex.Requests, ex.RequestBytes, change, d.opts.changes)
	o := floor.Options{
		Binary: d.bins.floor, Clients: d.opts.clients, Conns: d.opts.conns,
		Exchange: ex, ChangeBytes: change, Changes: d.opts.changes,
		Settle: d.opts.settle, SyncTimeout: d.opts.syncTimeout, ChangeTimeout: d.opts.changeTimeout,
		LogDir: d.dir,
	}
	if exchange, err = floor.Run(ctx, o); err != nil {
		return nil, nil, err
	}
	d.logf("gRPC floor: cold sync %.2fs (server CPU %.2fs); change p50 %.0f ms p99 %.0f ms (server CPU %.2fs per change)",
		exchange.ColdSyncS, exchange.ColdServerCPUS, exchange.ChangeP(50), exchange.ChangeP(99), exchange.ChangeServerCPUPerChange())
	o.Exchange, o.Changes = floor.Exchange{ColdBytes: ex.ColdBytes}, 0
	if oneMessage, err = floor.Run(ctx, o); err != nil {
		return exchange, nil, err
	}
	d.logf("gRPC floor, the cold sync as one message per client: %.2fs (server CPU %.2fs)", oneMessage.ColdSyncS, oneMessage.ColdServerCPUS)
	return exchange, oneMessage, nil
}
