package agent

import (
	metricsv3 "github.com/envoyproxy/go-control-plane/envoy/config/metrics/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ClusterNameTagRegex extracts the whole Loom (Istio) cluster name from a
// cluster stat as the tag envoy.cluster_name (envoy_cluster_name in
// /stats/prometheus). Envoy removes the first capture group from the stat
// name and takes the second as the tag value. Envoy's own default stops at
// the first dot, which would cut "outbound|9080|v1|reviews.default.svc.cluster.local"
// to "outbound|9080|v1|reviews"; this one goes on to a host ending in
// .svc.cluster.local. Names without such a host (inbound|9080||, xds-grpc,
// a ServiceEntry's outbound|443||api.example.com) end at their first dot, as
// with Istio's bootstrap. The pattern is valid both as ECMAScript (Envoy's
// std::regex) and RE2 (the tests).
const ClusterNameTagRegex = `^cluster\.((.+?(\..+?\.svc\.cluster\.local)?)\.)`

// clusterNameTag is Envoy's name of the cluster tag.
const clusterNameTag = "envoy.cluster_name"

// envoyDefaultTagNames are Envoy's built-in tags (source/common/config/
// well_known_names.h) but envoy.cluster_name. Naming them without a regex
// makes Envoy use its default regex. They are listed rather than turned on
// with use_all_default_tags because, with it on, Envoy's default
// envoy.cluster_name extractor runs first and wins over ours (see
// TagProducerImpl::produceTags), so the tag would hold a cut name.
var envoyDefaultTagNames = []string{
	"envoy.response_code",
	"envoy.response_code_class",
	"envoy.http_conn_manager_prefix",
	"envoy.listener_address",
	"envoy.tcp_prefix",
	"envoy.udp_prefix",
	"envoy.virtual_host",
	"envoy.virtual_cluster",
	"envoy.rds_route_config",
	"envoy.worker_id",
	"envoy.http_user_agent",
	"envoy.fault_downstream_cluster",
	"envoy.ssl_cipher",
	"cipher_suite",
	"envoy.grpc_bridge_service",
	"envoy.grpc_bridge_method",
	"envoy.clientssl_prefix",
	"envoy.ratelimit_prefix",
	"envoy.mongo_prefix",
	"envoy.mongo_cmd",
	"envoy.mongo_collection",
	"envoy.mongo_callsite",
	"envoy.dynamo_operation",
	"envoy.dynamo_table",
	"envoy.dynamo_partition_id",
}

// StatsConfig is the stats_config of Loom's sidecar and gateway
// bootstraps: Envoy's default tags, with envoy.cluster_name holding the
// full cluster name.
func StatsConfig() *metricsv3.StatsConfig {
	tags := []*metricsv3.TagSpecifier{{
		TagName:  clusterNameTag,
		TagValue: &metricsv3.TagSpecifier_Regex{Regex: ClusterNameTagRegex},
	}}
	for _, name := range envoyDefaultTagNames {
		tags = append(tags, &metricsv3.TagSpecifier{TagName: name})
	}
	return &metricsv3.StatsConfig{
		UseAllDefaultTags: wrapperspb.Bool(false),
		StatsTags:         tags,
	}
}
