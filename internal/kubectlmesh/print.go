package kubectlmesh

import (
	"encoding/json"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"
)

// printObjects prints API objects as kubectl get -o json|yaml does: one object alone, several
// as a v1 List.
func printObjects(out io.Writer, objs []runtime.Object, output string) error {
	var printer printers.ResourcePrinter = &printers.JSONPrinter{}
	if output == outputYAML {
		printer = &printers.YAMLPrinter{}
	}
	items := make([]unstructured.Unstructured, 0, len(objs))
	scheme := Scheme()
	for _, obj := range objs {
		gvks, _, err := scheme.ObjectKinds(obj)
		if err != nil {
			return err
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return fmt.Errorf("converting %T: %w", obj, err)
		}
		u := unstructured.Unstructured{Object: m}
		u.SetGroupVersionKind(gvks[0])
		items = append(items, u)
	}
	if len(items) == 1 {
		return printer.PrintObj(&items[0], out)
	}
	list := &unstructured.UnstructuredList{Items: items}
	list.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "List"})
	return printer.PrintObj(list, out)
}

// printData prints plain data (not an API object) as JSON or YAML.
func printData(out io.Writer, v any, output string) error {
	data, err := yaml.Marshal(v)
	if output == outputJSON {
		data, err = jsonIndent(v)
	}
	if err != nil {
		return err
	}
	_, err = out.Write(data)
	return err
}

// flushWriter is a table writer: columns are aligned on Flush.
type flushWriter interface {
	io.Writer
	Flush() error
}

func newTabWriter(out io.Writer) flushWriter { return printers.GetNewTabWriter(out) }

func jsonIndent(v any) ([]byte, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
