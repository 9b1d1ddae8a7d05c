package discovery

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"loom.dev/loom/pkg/model"
)

func TestConvertService(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "demo", Annotations: map[string]string{exportToAnnotation: ".,web"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: "10.0.0.10", ClusterIPs: []string{"10.0.0.10"}, Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{
				{Name: "grpc", Port: 8080, TargetPort: intstr.FromInt32(9090)},
				{Name: "web", Port: 80, AppProtocol: ptr.To("http")},
			},
		},
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "echo-1", Namespace: "demo", Labels: map[string]string{discoveryv1.LabelServiceName: "echo"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("grpc"), Port: ptr.To[int32](9090)}, {Name: ptr.To("web"), Port: ptr.To[int32](8081)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.1.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}},
			{Addresses: []string{"10.1.0.1"}, Zone: ptr.To("z1"), NodeName: ptr.To("n1"), TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "demo", Name: "echo-a"}},
			{Addresses: []string{"10.1.0.3"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
		},
	}
	pods := map[string]*corev1.Pod{"demo/echo-a": {ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "echo", "version": "v1"}}, Spec: corev1.PodSpec{ServiceAccountName: "echo-sa"}}}
	nodes := map[string]*corev1.Node{"n1": {ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{regionLabel: "r1"}}}}

	got, err := convertService(svc, []*discoveryv1.EndpointSlice{slice}, pods, nodes, "cluster.local")
	if err != nil {
		t.Fatal(err)
	}
	exportTo, _ := model.ParseExportTo([]string{".", "web"}, "demo")
	ports := map[string]uint32{"grpc": 9090, "web": 8081}
	want := &model.Service{
		Hostname: "echo.demo.svc.cluster.local", Namespace: "demo", Source: model.SourceKubernetes, Name: "echo",
		Addresses: []string{"10.0.0.10"},
		Ports: []model.Port{
			{Name: "grpc", Number: 8080, Protocol: model.ProtocolGRPC, TargetPort: 9090},
			{Name: "web", Number: 80, Protocol: model.ProtocolHTTP},
		},
		ExportTo: exportTo,
		Selector: map[string]string{"app": "echo"},
		Endpoints: []*model.Endpoint{
			{Address: "10.1.0.1", Ports: ports, Labels: map[string]string{"app": "echo", "version": "v1"}, ServiceAccount: "echo-sa", Locality: model.Locality{Region: "r1", Zone: "z1"}},
			{Address: "10.1.0.2", Ports: ports, Health: model.Draining},
			{Address: "10.1.0.3", Ports: ports, Health: model.Unhealthy},
		},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(model.ExportTo{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	svc.Annotations[exportToAnnotation] = "~,web"
	if _, err := convertService(svc, nil, nil, nil, "cluster.local"); err == nil {
		t.Error("an invalid exportTo annotation must be an error")
	}
}
