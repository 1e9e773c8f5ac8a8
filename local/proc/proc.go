// Package proc starts long-running processes detached from the calling
// command, records them in PID files and stops only the processes it started.
//
// A PID file holds the process ID and the absolute path of the executable. A
// process counts as ours only while /proc/<pid>/exe still points to that path,
// so a recycled PID never makes `down` kill a stranger.
package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Spec describes a process to start.
type Spec struct {
	Name    string   // for messages
	Path    string   // absolute path of the executable
	Args    []string // arguments, without the program name
	Env     []string // full environment
	Dir     string   // working directory
	LogFile string   // stdout and stderr are appended here
	PIDFile string
	// NetNS, when set, starts the process inside that network namespace
	// (`ip netns exec NetNS Path Args...`). ip enters the namespace and then
	// execs Path in the same process, so the PID file, Running and Stop work
	// exactly as for a process started directly.
	NetNS string
}

// IPCommand is iproute2's ip, which enters network namespaces.
const IPCommand = "/usr/sbin/ip"

// Start launches the process in its own session, so it outlives the command
// that started it and a Ctrl-C in the terminal does not reach it.
func Start(s Spec) (int, error) {
	if pid, ok := Running(s.PIDFile); ok {
		return 0, fmt.Errorf("%s is already running (pid %d, %s)", s.Name, pid, s.PIDFile)
	}
	for _, dir := range []string{filepath.Dir(s.LogFile), filepath.Dir(s.PIDFile)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, fmt.Errorf("start %s: %w", s.Name, err)
		}
	}
	logf, err := os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("start %s: open log: %w", s.Name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n==== %s starting %s at %s ====\n", s.Name, s.Path, time.Now().UTC().Format(time.RFC3339))

	cmd := exec.Command(s.Path, s.Args...)
	if s.NetNS != "" {
		cmd = exec.Command(IPCommand, append([]string{"netns", "exec", s.NetNS, s.Path}, s.Args...)...)
	}
	cmd.Env = s.Env
	cmd.Dir = s.Dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s (%s): %w", s.Name, s.Path, err)
	}
	pid := cmd.Process.Pid
	// Reap the child in the background if this command lives long enough to
	// see it exit; otherwise init adopts it.
	go func() { _ = cmd.Wait() }()
	if s.NetNS != "" {
		// Until ip has entered the namespace and exec'd, /proc/<pid>/exe is
		// ip itself: wait for the exec (or the exit) so Running answers
		// right from the moment Start returns.
		for i := 0; i < 250; i++ {
			if target, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || strings.TrimSuffix(target, " (deleted)") == s.Path {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	content := fmt.Sprintf("%d\n%s\n", pid, s.Path)
	if err := writeFileAtomic(s.PIDFile, []byte(content)); err != nil {
		_ = cmd.Process.Kill()
		return 0, fmt.Errorf("start %s: %w", s.Name, err)
	}
	return pid, nil
}

// Running reports whether the process recorded in pidFile is alive and is
// still the executable that was started.
func Running(pidFile string) (int, bool) {
	pid, exe, err := readPIDFile(pidFile)
	if err != nil {
		return 0, false
	}
	return pid, isOurs(pid, exe)
}

// Stop sends SIGTERM to the recorded process, waits up to grace for it to
// exit, then sends SIGKILL. It removes the PID file. A missing or stale PID
// file is not an error: there is nothing of ours to stop.
func Stop(ctx context.Context, pidFile string, grace time.Duration) error {
	pid, exe, err := readPIDFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer os.Remove(pidFile)
	if !isOurs(pid, exe) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !isOurs(pid, exe) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	for i := 0; i < 100 && isOurs(pid, exe); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Kill sends SIGKILL at once (fault tests use it to simulate a crash). The PID
// file is kept, as a crash would leave it.
func Kill(pidFile string) error {
	pid, exe, err := readPIDFile(pidFile)
	if err != nil {
		return err
	}
	if !isOurs(pid, exe) {
		return fmt.Errorf("process %d of %s is not running", pid, pidFile)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	for i := 0; i < 250 && isOurs(pid, exe); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// RSS returns the resident set size of a running process in bytes, and its
// peak (VmHWM), read from /proc.
func RSS(pid int) (current, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			current = kb * 1024
		case "VmHWM:":
			peak = kb * 1024
		}
	}
	return current, peak, nil
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's times:
// 100 on every Linux architecture Go supports (sysconf(_SC_CLK_TCK) would
// need cgo).
const clockTicks = 100

// CPUTime returns the CPU time (user and system, every thread) a process
// has used so far, from /proc/<pid>/stat, in steps of 10 ms.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after its closing parenthesis, where field 3 begins.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

func readPIDFile(path string) (int, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		return 0, "", fmt.Errorf("pid file %s: want 2 lines (pid, executable), got %d", path, len(lines))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0, "", fmt.Errorf("pid file %s: bad pid %q", path, lines[0])
	}
	return pid, strings.TrimSpace(lines[1]), nil
}

// isOurs checks that pid is alive and runs exe. A zombie (exited, not yet
// reaped) counts as gone.
func isOurs(pid int, exe string) bool {
	target, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	target = strings.TrimSuffix(target, " (deleted)")
	if target != exe {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
