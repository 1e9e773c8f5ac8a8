package systemd

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeBins makes the executables the units name, so that systemd-analyze
// verify (which checks that ExecStart is executable) judges the units, not
// this machine.
func fakeBins(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range []string{"fabric-ca-server", "peer", "shiptrace-cc", "shiptrace-gateway", "shiptrace-notifier"} {
		if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// verify runs systemd-analyze verify on the files and returns its
// complaints: it exits 0 after many of them (a key it cannot parse is
// "ignored"), so any output is a complaint.
func verify(t *testing.T, files []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "systemd-analyze", append([]string{"verify", "--man=no"}, files...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && out.Len() == 0 {
		return err.Error()
	}
	return strings.TrimSpace(out.String())
}

var exposure = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// TestUnitsVerify writes each kind of member's units and has systemd check
// them: systemd-analyze verify must have nothing to say, and each service's
// offline security exposure must be low. Without systemd-analyze it checks
// the keys only, and says so. The keys are checked either way.
func TestUnitsVerify(t *testing.T) {
	_, err := exec.LookPath("systemd-analyze")
	haveSystemd := err == nil
	if !haveSystemd {
		t.Log("systemd-analyze is not installed: checking the units' keys only, not systemd's own verification")
	}
	for _, m := range []Member{{MSPID: "ExporterMSP", Notifier: true}, {MSPID: "CarrierMSP"}} {
		t.Run(m.MSPID, func(t *testing.T) {
			m.BinDir = fakeBins(t)
			dir := t.TempDir()
			names, err := Write(m, dir)
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for _, n := range names {
				files = append(files, filepath.Join(dir, n))
			}
			checkKeys(t, m, dir, names)
			if !haveSystemd {
				return
			}
			if out := verify(t, files); out != "" {
				t.Errorf("systemd-analyze verify:\n%s", out)
			}
			for _, f := range files {
				if !strings.HasSuffix(f, ".service") || strings.Contains(f, "@.") {
					continue
				}
				out, err := exec.Command("systemd-analyze", "security", "--offline=yes", f).CombinedOutput()
				match := exposure.FindSubmatch(out)
				if match == nil {
					t.Errorf("systemd-analyze security %s: %v\n%s", filepath.Base(f), err, out)
					continue
				}
				level, _ := strconv.ParseFloat(string(match[1]), 64)
				t.Logf("%s: exposure %.1f (systemd-analyze security --offline)", filepath.Base(f), level)
				if level > 2.5 {
					t.Errorf("%s: exposure %.1f, want at most 2.5 (systemd's \"OK\")", filepath.Base(f), level)
				}
			}
		})
	}
}

// TestVerifyCatchesABrokenUnit: the check above can fail. A unit with a
// value systemd cannot parse, or a missing executable, is reported.
func TestVerifyCatchesABrokenUnit(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	units, err := Units(Member{MSPID: "ExporterMSP", BinDir: fakeBins(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		if u.Name != "shiptrace-peer.service" {
			continue
		}
		for what, broken := range map[string]string{
			"bad Restart":        strings.Replace(u.Content, "Restart=on-failure", "Restart=sometimes", 1),
			"missing executable": strings.Replace(u.Content, "ExecStart=", "ExecStart=/nonexistent", 1),
		} {
			f := filepath.Join(t.TempDir(), u.Name)
			if err := os.WriteFile(f, []byte(broken), 0o644); err != nil {
				t.Fatal(err)
			}
			if out := verify(t, []string{f}); out == "" {
				t.Errorf("%s: systemd-analyze verify said nothing", what)
			}
		}
	}
}

// checkKeys parses the units (INI: [Section] then Key=Value) and checks
// what production needs of each.
func checkKeys(t *testing.T, m Member, dir string, names []string) {
	t.Helper()
	want := map[string]bool{"shiptrace.target": true, "shiptrace-ca.service": true, "shiptrace-peer.service": true,
		"shiptrace-chaincode@.service": true, "shiptrace-gateway.service": true, "shiptrace-notifier.service": m.Notifier}
	got := map[string]bool{}
	for _, n := range names {
		got[n] = true
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s generated: %v, want %v", n, got[n], w)
		}
	}
	for _, n := range names {
		keys := parse(t, filepath.Join(dir, n))
		if n == "shiptrace.target" {
			if !strings.Contains(first(keys, "Unit.Wants"), "shiptrace-peer.service") || first(keys, "Install.WantedBy") != "multi-user.target" {
				t.Errorf("%s: %v", n, keys)
			}
			continue
		}
		for k, v := range map[string]string{
			"Service.Restart": "on-failure", "Service.User": "shiptrace", "Service.NoNewPrivileges": "yes",
			"Service.ProtectSystem": "strict", "Service.ProtectHome": "yes", "Service.PrivateTmp": "yes",
			"Service.CapabilityBoundingSet": "", "Service.MemoryDenyWriteExecute": "yes", "Unit.PartOf": "shiptrace.target",
			"Install.WantedBy": "shiptrace.target",
		} {
			if vals, ok := keys[k]; !ok || vals[0] != v {
				t.Errorf("%s: %s = %q, want %q", n, k, vals, v)
			}
		}
		if len(keys["Service.EnvironmentFile"]) == 0 || !strings.HasPrefix(first(keys, "Service.ExecStart"), m.BinDir+"/") ||
			!strings.HasPrefix(first(keys, "Service.StateDirectory"), "shiptrace/") {
			t.Errorf("%s: EnvironmentFile %v, ExecStart %q, StateDirectory %q", n, keys["Service.EnvironmentFile"],
				first(keys, "Service.ExecStart"), first(keys, "Service.StateDirectory"))
		}
		if n == "shiptrace-gateway.service" || n == "shiptrace-notifier.service" {
			if !strings.Contains(first(keys, "Unit.After"+""), "network-online.target") || !contains(keys["Unit.After"], "shiptrace-peer.service") {
				t.Errorf("%s does not start after the peer: %v", n, keys["Unit.After"])
			}
			if len(keys["Service.LoadCredential"]) == 0 {
				t.Errorf("%s takes no secret as a credential", n)
			}
		}
	}
}

func parse(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not Key=Value: %q", path, line)
			}
			keys[section+"."+k] = append(keys[section+"."+k], v)
		}
	}
	return keys
}

func first(keys map[string][]string, k string) string {
	if v := keys[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func contains(vs []string, s string) bool {
	for _, v := range vs {
		if v == s {
			return true
		}
	}
	return false
}
