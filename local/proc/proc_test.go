package proc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func sleepBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("sleep not found: %v", err)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return real
}

func TestStartRunningStop(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Name: "sleeper", Path: sleepBinary(t), Args: []string{"60"}, Env: os.Environ(),
		LogFile: filepath.Join(dir, "logs", "sleeper.log"), PIDFile: filepath.Join(dir, "run", "sleeper.pid")}
	pid, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := Running(spec.PIDFile); !ok || got != pid {
		t.Fatalf("Running = %d, %v; want %d, true", got, ok, pid)
	}
	if _, err := Start(spec); err == nil {
		t.Fatal("second Start of a running process succeeded")
	}
	if err := Stop(context.Background(), spec.PIDFile, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := Running(spec.PIDFile); ok {
		t.Fatal("process still running after Stop")
	}
	if _, err := os.Stat(spec.PIDFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
}

// A PID file whose process is now some other program must not be treated as
// ours: Stop must leave that process alone.
func TestStopIgnoresRecycledPID(t *testing.T) {
	dir := t.TempDir()
	other := exec.Command(sleepBinary(t), "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	pidFile := filepath.Join(dir, "x.pid")
	// The recorded executable differs from what that PID really runs.
	content := strconv.Itoa(other.Process.Pid) + "\n/nonexistent/orderer\n"
	if err := os.WriteFile(pidFile, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := Running(pidFile); ok {
		t.Fatal("Running claimed a process that runs another executable")
	}
	if err := Stop(context.Background(), pidFile, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(other.Process.Pid)); err != nil {
		t.Fatal("Stop killed a process it did not start")
	}
}

// TestCPUTimeGrowsWithWork: the test process's own CPU time, read from
// /proc, grows while it burns CPU (by at least one 10 ms tick; a busy
// machine may give it little of the 300 ms).
func TestCPUTimeGrowsWithWork(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
		x++
	}
	after, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 10*time.Millisecond || d > 5*time.Second {
		t.Fatalf("CPU time grew by %s over 300 ms of spinning (%d loops)", d, x)
	}
}
