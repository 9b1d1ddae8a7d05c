package kubectlmesh

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

func printStatus(out io.Writer, states []meshState, output string) error {
	if output == outputJSON || output == outputYAML {
		var objs []runtime.Object
		for _, s := range states {
			objs = append(objs, s.objects()...)
		}
		return printObjects(out, objs, output)
	}
	for i, s := range states {
		if i > 0 {
			fmt.Fprintln(out)
		}
		if err := printMesh(out, s, output == outputWide); err != nil {
			return err
		}
	}
	return nil
}

// printMesh prints one mesh as sections, each aligned on its own.
func printMesh(out io.Writer, s meshState, wide bool) error {
	m := s.Mesh
	st := &m.Status
	sections := []func(io.Writer){
		func(w io.Writer) { printSummary(w, m) },
		func(w io.Writer) { printConditions(w, st.Conditions, wide) },
		func(w io.Writer) { printComponents(w, st.Components, wide) },
		func(w io.Writer) { printRevisions(w, s, wide) },
		func(w io.Writer) { printCA(w, st) },
		func(w io.Writer) { printProxies(w, st.Proxies) },
	}
	for i, section := range sections {
		if i > 0 {
			fmt.Fprintln(out)
		}
		w := newTabWriter(out)
		section(w)
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func printSummary(w io.Writer, m *operatorv1alpha1.MeshOperator) {
	st := &m.Status
	fmt.Fprintf(w, "Mesh:\t%s\n", m.Name)
	fmt.Fprintf(w, "Version:\t%s (spec %s)\n", orNone(st.Version), orNone(m.Spec.Version))
	fmt.Fprintf(w, "Revision:\t%s\n", orNone(st.Revision))
	fmt.Fprintf(w, "Namespace:\t%s\n", m.Spec.Namespace)
	fmt.Fprintf(w, "Generation:\t%d (status describes %d)\n", m.Generation, st.ObservedGeneration)
}

func printConditions(w io.Writer, conditions []metav1.Condition, wide bool) {
	if wide {
		fmt.Fprintln(w, "CONDITION\tSTATUS\tREASON\tSINCE\tMESSAGE")
	} else {
		fmt.Fprintln(w, "CONDITION\tSTATUS\tREASON\tMESSAGE")
	}
	for _, c := range conditions {
		if wide {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, timestamp(&c.LastTransitionTime), orNone(c.Message))
		} else {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, orNone(c.Message))
		}
	}
}

func printComponents(w io.Writer, components []operatorv1alpha1.ComponentStatus, wide bool) {
	if wide {
		fmt.Fprintln(w, "COMPONENT\tKIND\tNAMESPACE\tVERSION\tREADY\tREPLICAS\tMESSAGE")
	} else {
		fmt.Fprintln(w, "COMPONENT\tKIND\tNAMESPACE\tVERSION\tREADY\tREPLICAS")
	}
	for _, c := range components {
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%t\t%d/%d", c.Name, c.Kind, orNone(c.Namespace), orNone(c.Version), c.Ready, c.ReadyReplicas, c.DesiredReplicas)
		if wide {
			row += "\t" + orNone(c.Message)
		}
		fmt.Fprintln(w, row)
	}
}

// printRevisions shows the MeshRevision objects; status.revisions only when there are none
// (an operator that predates MeshRevisions), without what only the objects know.
func printRevisions(w io.Writer, s meshState, wide bool) {
	header := "REVISION\tVERSION\tREADY\tIN USE\tNAMESPACES\tWORKLOADS"
	if wide {
		header += "\tUNUSED SINCE\tMESSAGE"
	}
	fmt.Fprintln(w, header)
	if len(s.Revisions) == 0 {
		for _, r := range s.Mesh.Status.Revisions {
			row := fmt.Sprintf("%s\t%s\t%s\t-\t-\t-", r.Name, r.Version, strconv.FormatBool(r.Ready))
			if wide {
				row += "\t-\t-"
			}
			fmt.Fprintln(w, row)
		}
		return
	}
	for _, r := range s.Revisions {
		ready := meta.FindStatusCondition(r.Status.Conditions, operatorv1alpha1.ConditionReady)
		inUse := meta.FindStatusCondition(r.Status.Conditions, operatorv1alpha1.ConditionInUse)
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%d\t%d", r.Spec.Revision, r.Spec.Version, conditionStatus(ready), conditionStatus(inUse), r.Status.Namespaces, r.Status.Workloads)
		if wide {
			msg := "-"
			if ready != nil && ready.Message != "" {
				msg = ready.Message
			}
			row += "\t" + timestamp(r.Status.UnusedSince) + "\t" + msg
		}
		fmt.Fprintln(w, row)
	}
}

func printCA(w io.Writer, st *operatorv1alpha1.MeshOperatorStatus) {
	if st.CA == nil {
		fmt.Fprintln(w, "CA:\tnot reported")
		return
	}
	fmt.Fprintf(w, "CA mode:\t%s\n", orNone(string(st.CA.Mode)))
	fmt.Fprintf(w, "Root expires:\t%s\n", timestamp(st.CA.RootExpiresAt))
	fmt.Fprintf(w, "Signing certificate expires:\t%s\n", timestamp(st.CA.SigningCertExpiresAt))
}

// printProxies shows the proxies the control plane reports, per revision.
func printProxies(w io.Writer, p *operatorv1alpha1.ProxiesStatus) {
	if p == nil {
		fmt.Fprintln(w, "Proxies:\tnone reported")
		return
	}
	fmt.Fprintf(w, "Proxies:\t%s\n", p.Summary)
	fmt.Fprintln(w, "REVISION\tCONNECTED\tOUT OF DATE\tREPORTING PODS")
	for _, r := range p.Revisions {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\n", r.Revision, r.Connected, r.OutOfDate, r.Reporting)
	}
}

func conditionStatus(c *metav1.Condition) string {
	if c == nil {
		return "Unknown"
	}
	return string(c.Status)
}

func timestamp(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
