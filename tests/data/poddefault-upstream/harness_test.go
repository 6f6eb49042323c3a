// kfcheck's harness around upstream Kubeflow's PodDefault webhook (kubeflow/kubeflow v1.10.0
// components/admission-webhook, package main): copied next to upstream's main.go, it runs the steps of
// mutatePods that follow the PodDefault list (main.go:616-697) on the cases of CASES, with the list given,
// and writes each outcome (allowed, message, JSONPatch) to RESULTS. See README.md in this folder.
package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	settingsapi "github.com/kubeflow/kubeflow/components/admission-webhook/pkg/apis/settings/v1alpha1"
	"github.com/mattbaird/jsonpatch"
	corev1 "k8s.io/api/core/v1"
)

type hcase struct {
	Name        string            `json:"name"`
	Pod         json.RawMessage   `json:"pod"`
	PodDefaults []json.RawMessage `json:"poddefaults"`
	Namespace   string            `json:"namespace"`
}

type hresult struct {
	Name    string      `json:"name"`
	Allowed bool        `json:"allowed"`
	Message string      `json:"message"`
	Patch   interface{} `json:"patch"`
}

func TestHarness(t *testing.T) {
	data, err := os.ReadFile(os.Getenv("CASES"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []hcase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	var results []hresult
	for _, c := range cases {
		pod := corev1.Pod{}
		if err := json.Unmarshal(c.Pod, &pod); err != nil {
			t.Fatal(err)
		}
		if pod.Namespace == "" {
			pod.Namespace = c.Namespace
		}
		podCopy := pod.DeepCopy()
		var list []settingsapi.PodDefault
		for _, raw := range c.PodDefaults {
			pd := settingsapi.PodDefault{}
			if err := json.Unmarshal(raw, &pd); err != nil {
				t.Fatal(err)
			}
			list = append(list, pd)
		}
		r := hresult{Name: c.Name, Allowed: true}
		ann := pod.GetAnnotations()
		if ann != nil && (ann[annotationPrefix+"/exclude"] == "true" || ann[corev1.MirrorPodAnnotationKey] != "") {
			results = append(results, r)
			continue
		}
		matching, err := filterPodDefaults(list, &pod)
		if err != nil {
			r.Allowed, r.Message = false, err.Error()
			results = append(results, r)
			continue
		}
		if len(matching) == 0 {
			results = append(results, r)
			continue
		}
		names := []string{}
		for _, pd := range matching {
			names = append(names, pd.GetName())
		}
		if err := safeToApplyPodDefaultsOnPod(&pod, matching); err != nil {
			r.Allowed = false
			r.Message = "conflict occurred while applying poddefaults: " + strings.Join(names, ",") + " on pod: " + pod.GetName() + " err: " + err.Error()
			results = append(results, r)
			continue
		}
		applyPodDefaultsOnPod(&pod, matching)
		a, _ := json.Marshal(podCopy)
		b, _ := json.Marshal(pod)
		patch, err := jsonpatch.CreatePatch(a, b)
		if err != nil {
			t.Fatal(err)
		}
		pb, _ := json.Marshal(patch)
		var p interface{}
		_ = json.Unmarshal(pb, &p)
		r.Patch = p
		results = append(results, r)
	}
	out, _ := json.MarshalIndent(results, "", " ")
	if err := os.WriteFile(os.Getenv("RESULTS"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}
