// Package testbin builds the kubegate binary and runs it for the black-box test
// suites, as users run it: one builder and one process runner, so every suite
// captures output and finds the listening URL the same way.
package testbin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Build builds cmd/kubegate into dir and returns the binary's path.
func Build(dir string) (string, error) {
	if err := touchSources(); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "kubegate")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/kubegate/kubegate/cmd/kubegate") //nolint:noctx,gosec // our own package, built by go, which has its own limits.
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building kubegate: %w", err)
	}
	return bin, nil
}

// ServingURL finds the URL in the JSON log line of a gateway that serves.
var ServingURL = regexp.MustCompile(`"msg":"serving".*"url":"([^"]+)"`)

// Process is a running kubegate with its output (stdout and stderr) captured line
// by line.
type Process struct {
	Cmd   *exec.Cmd
	lines chan string
	done  chan struct{}

	mu  sync.Mutex
	out strings.Builder
}

// Start runs bin with args, its environment being the test's plus env.
func Start(bin string, env []string, args ...string) (*Process, error) {
	cmd := exec.Command(bin, args...) //nolint:noctx,gosec // the binary Build made; stopped by Kill or a signal, not a context.
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{Cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody waits for lines: the output is kept anyway
			}
		}
		_, _ = io.Copy(io.Discard, pr) // a line too long for the scanner must not block the process
	}()
	go func() { _ = cmd.Wait(); _ = pw.Close(); close(p.done) }()
	return p, nil
}

// Output is everything the process printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// WaitLine returns the first submatch of re in a line printed from now on.
func (p *Process) WaitLine(re *regexp.Regexp, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if m := re.FindStringSubmatch(l); m != nil {
				return m[1], nil
			}
		case <-deadline:
			return "", fmt.Errorf("no line matching %s within %s", re, timeout)
		case <-p.done:
			return "", fmt.Errorf("kubegate exited (%v) before printing a line matching %s", p.Cmd.ProcessState, re)
		}
	}
}

// WaitURL waits until the gateway serves and returns its URL.
func (p *Process) WaitURL(timeout time.Duration) (string, error) {
	return p.WaitLine(ServingURL, timeout)
}

// Wait waits for the process to exit and returns its exit code.
func (p *Process) Wait(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		return -1, errors.New("kubegate did not exit within " + timeout.String())
	}
}

// Kill stops the process at once and waits for it.
func (p *Process) Kill() {
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// touchSources opens every source file the binary is built from. go test caches
// a package's result keyed on what the test process itself reads; the binary is
// built by a child process, so without this a changed gateway could be "tested"
// by a cached pass from before the change. Only opens from within a test count
// (not TestMain's, before m.Run): CI runs with -count=1 besides.
func touchSources() error {
	out, err := exec.Command("go", "env", "GOMOD").Output() //nolint:noctx // a quick local query.
	if err != nil {
		return fmt.Errorf("finding the module: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	return filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "docs" || name == "hack" || name == "test") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".html", ".js", ".css", ".yaml", ".sql", ".mod", ".sum":
			f, err := os.Open(path) //nolint:gosec // our own sources.
			if err != nil {
				return err
			}
			return f.Close()
		}
		return nil
	})
}
