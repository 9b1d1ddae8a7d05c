package meshca

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"loom.dev/loom/pkg/ca"
)

type callerKey struct{}

// CallerFrom is the identity a secure-port interceptor authenticated for the call, if any.
func CallerFrom(ctx context.Context) (ca.Identity, bool) {
	id, ok := ctx.Value(callerKey{}).(ca.Identity)
	return id, ok
}

// StreamAuthenticator authenticates every stream on the secure port (xDS over TLS) by the
// caller's ServiceAccount token, as istiod does on 15012, and puts the identity in the
// stream's context (CallerFrom). A stream without a valid token is refused.
func (a *Authority) StreamAuthenticator() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		md, _ := metadata.FromIncomingContext(ss.Context())
		id, err := a.service.authn.authenticate(ss.Context(), bearerToken(md))
		if err != nil {
			a.service.metrics.xdsRefused.Inc()
			if errors.Is(err, errUnauthenticated) {
				return status.Errorf(codes.Unauthenticated, "%s: %v", info.FullMethod, err)
			}
			return status.Errorf(codes.Unavailable, "cannot authenticate the caller now: %v", err)
		}
		return handler(srv, &authenticatedStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), callerKey{}, id)})
	}
}

type authenticatedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *authenticatedStream) Context() context.Context { return s.ctx }
