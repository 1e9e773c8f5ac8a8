// Package k8s_test checks the Kubernetes manifests of network/k8s as far as
// this repository can without a cluster: every document is valid YAML with
// apiVersion, kind and name; every container runs under the "restricted"
// pod security standard's rules with probes and a memory limit; the
// notifier is one replica; the flags the manifests pass are flags the
// gateway and notifier really have; and, where kubectl is installed,
// `kubectl kustomize` renders the set.
package k8s_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	gwconfig "github.com/shiptrace/shiptrace/gateway/config"
	ntconfig "github.com/shiptrace/shiptrace/notifier/config"
)

type container struct {
	Name            string   `yaml:"name"`
	Image           string   `yaml:"image"`
	Args            []string `yaml:"args"`
	ReadinessProbe  any      `yaml:"readinessProbe"`
	LivenessProbe   any      `yaml:"livenessProbe"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	Resources struct {
		Limits map[string]string `yaml:"limits"`
	} `yaml:"resources"`
}

type doc struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Template struct {
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot   bool `yaml:"runAsNonRoot"`
					SeccompProfile struct {
						Type string `yaml:"type"`
					} `yaml:"seccompProfile"`
				} `yaml:"securityContext"`
				Containers []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func TestManifests(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("manifests: %v %v", files, err)
	}
	workloads := map[string]doc{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for i := 0; ; i++ {
			var d doc
			if err := dec.Decode(&d); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			if d.APIVersion == "" || d.Kind == "" || (d.Metadata.Name == "" && d.Kind != "Kustomization") {
				t.Errorf("%s document %d: apiVersion %q kind %q name %q", f, i, d.APIVersion, d.Kind, d.Metadata.Name)
			}
			if d.Kind == "Deployment" || d.Kind == "StatefulSet" {
				workloads[d.Metadata.Name] = d
				checkPod(t, f, d)
			}
		}
	}
	for _, name := range []string{"shiptrace-cc-1-1", "shiptrace-gateway", "shiptrace-notifier"} {
		if _, ok := workloads[name]; !ok {
			t.Errorf("no workload %s", name)
		}
	}
	if r := workloads["shiptrace-notifier"].Spec.Replicas; r == nil || *r != 1 {
		t.Errorf("notifier replicas %v, want exactly 1 (one bbolt writer, one sender)", r)
	}

	// The flags the manifests pass exist.
	nt := workloads["shiptrace-notifier"].Spec.Template.Spec.Containers[0].Args
	known := map[string]bool{"config": true}
	for _, k := range ntconfig.Keys {
		known[k.Name] = true
	}
	for _, a := range nt {
		if name, ok := strings.CutPrefix(a, "--"); ok && !known[name] {
			t.Errorf("notifier manifest passes --%s, which the notifier does not know", name)
		}
	}
	fs := pflag.NewFlagSet("gateway", pflag.ContinueOnError)
	gwconfig.Flags(fs)
	for _, a := range workloads["shiptrace-gateway"].Spec.Template.Spec.Containers[0].Args[1:] {
		if name, ok := strings.CutPrefix(a, "--"); ok && fs.Lookup(name) == nil {
			t.Errorf("gateway manifest passes --%s, which the gateway does not know", name)
		}
	}

	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Log("kubectl is not installed: the set was not rendered with kustomize")
		return
	}
	out, err := exec.Command("kubectl", "kustomize", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	t.Logf("kubectl kustomize renders %d objects (not applied: no cluster here)", len(regexp.MustCompile(`(?m)^kind: `).FindAll(out, -1)))
}

// checkPod applies the restricted pod security standard's rules.
func checkPod(t *testing.T, f string, d doc) {
	t.Helper()
	ps := d.Spec.Template.Spec
	if !ps.SecurityContext.RunAsNonRoot || ps.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("%s %s: pod runAsNonRoot %v, seccomp %q", f, d.Metadata.Name, ps.SecurityContext.RunAsNonRoot, ps.SecurityContext.SeccompProfile.Type)
	}
	for _, c := range ps.Containers {
		sc := c.SecurityContext
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s %s/%s: securityContext %+v", f, d.Metadata.Name, c.Name, sc)
		}
		if c.ReadinessProbe == nil || c.LivenessProbe == nil || c.Resources.Limits["memory"] == "" || c.Image == "" {
			t.Errorf("%s %s/%s: probes, memory limit and image are required", f, d.Metadata.Name, c.Name)
		}
	}
}
