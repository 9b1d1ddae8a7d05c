# The operator image for those with a Docker engine; `make image` builds the same without one.
# Build context: the repository root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -tags nodev -trimpath -o /loom .

FROM gcr.io/distroless/static:nonroot
COPY --from=build /loom /loom
USER 65532:65532
ENTRYPOINT ["/loom"]
