package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The echo service, defined by hand (no protoc): one unary method
// /loom.test.Echo/Echo taking a google.protobuf.StringValue and answering a
// google.protobuf.Struct.
const (
	serviceName = "loom.test.Echo"
	methodName  = "Echo"
	fullMethod  = "/" + serviceName + "/" + methodName
)

// Request metadata understood by the server.
const (
	hdrFailFirstN = "x-fail-first-n" // fail the first n calls carrying x-fail-key with Unavailable
	hdrFailKey    = "x-fail-key"
	hdrSleep      = "x-sleep"     // Go duration to sleep before answering
	hdrFailCode   = "x-fail-code" // always fail with this code
	// hdrBackend is set by the server in the response trailer (and header on
	// success) to its --name.
	hdrBackend = "x-backend"
)

// echoServer is implemented by the server; the interface is what
// grpc.ServiceDesc.HandlerType points at.
type echoServer interface {
	Echo(ctx context.Context, req *wrapperspb.StringValue) (*structpb.Struct, error)
}

func echoHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.StringValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(echoServer).Echo(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}
	handler := func(ctx context.Context, req any) (any, error) {
		return srv.(echoServer).Echo(ctx, req.(*wrapperspb.StringValue))
	}
	return interceptor(ctx, in, info, handler)
}

var echoServiceDesc = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*echoServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: methodName,
		Handler:    echoHandler,
	}},
	Streams:  []grpc.StreamDesc{},
	Metadata: "loom/test/echo.proto",
}

// callEcho invokes the echo method on cc.
func callEcho(ctx context.Context, cc grpc.ClientConnInterface, msg string, opts ...grpc.CallOption) (*structpb.Struct, error) {
	out := new(structpb.Struct)
	if err := cc.Invoke(ctx, fullMethod, wrapperspb.String(msg), out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}

// parseCode accepts a code by name in either Go style ("Unavailable",
// "DeadlineExceeded") or canonical style ("UNAVAILABLE", "DEADLINE_EXCEEDED"),
// case-insensitively, or by number ("14").
func parseCode(s string) (codes.Code, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		if n > 16 {
			return 0, fmt.Errorf("unknown code %q", s)
		}
		return codes.Code(n), nil
	}
	norm := func(x string) string { return strings.ToLower(strings.ReplaceAll(x, "_", "")) }
	want := norm(s)
	if want == "cancelled" {
		want = "canceled"
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if norm(c.String()) == want {
			return c, nil
		}
	}
	return 0, fmt.Errorf("unknown code %q", s)
}
