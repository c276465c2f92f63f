// Package e2e tests the built kubegate binary from the outside, as users run it.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubegate/kubegate/test/testbin"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kubegate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if binary, err = testbin.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running kubegate, stopped when the test ends.
type proc struct{ *testbin.Process }

func startKubegate(t *testing.T, args ...string) *proc {
	t.Helper()
	p, err := testbin.Start(binary, []string{"KUBEGATE_LOG_FORMAT=json"}, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("kubegate output:\n%s", p.Output())
		}
	})
	return &proc{p}
}

// waitLine returns the first submatch of re in the output.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	s, err := p.WaitLine(re, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	code, err := p.Wait(timeout)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var servingURL = testbin.ServingURL

func TestServeIsHealthyWithinASecondAndStopsOnSIGTERM(t *testing.T) {
	start := time.Now()
	dataDir := t.TempDir()
	p := startKubegate(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	url := p.waitLine(t, servingURL, 5*time.Second)
	for {
		if code, _ := httpGet(t, url+"/healthz"); code == 200 {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("not healthy within a second of starting")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("healthy %s after start", time.Since(start))
	if code, body := httpGet(t, url+"/readyz?verbose"); code != 200 || !strings.Contains(body, "[+]store ok") {
		t.Fatalf("readyz = %d %s", code, body)
	}

	// With SQLite and no --encryption-key-file, a key is generated beside the
	// database, readable by the owner only, and a log line says so.
	keyInfo, err := os.Stat(filepath.Join(dataDir, "encryption.key"))
	if err != nil || keyInfo.Mode().Perm() != 0o600 {
		t.Fatalf("generated key file: %v, %v", keyInfo, err)
	}
	if !strings.Contains(p.Output(), "generated an encryption key") {
		t.Fatalf("no log line about the generated key:\n%s", p.Output())
	}

	code, body := httpGet(t, url+"/no-such-thing")
	var st struct {
		Kind string `json:"kind"`
		Code int    `json:"code"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 404 || st.Kind != "Status" || st.Code != 404 {
		t.Fatalf("unknown route = %d %s", code, body)
	}

	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	if !strings.Contains(p.Output(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop logged:\n%s", p.Output())
	}
}

func TestServeOverTLS(t *testing.T) {
	dir := t.TempDir()
	crt, key := selfSigned(t, dir)
	p := startKubegate(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--tls-cert-file", crt, "--tls-key-file", key)
	url := p.waitLine(t, servingURL, 5*time.Second)
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url = %s, want https", url)
	}
	client := tlsClient(t, crt)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url+"/healthz", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz over TLS = %d", resp.StatusCode)
	}
}

func TestBadConfigurationExitsTwoWithOneLine(t *testing.T) {
	cases := []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"serve", "--log-format=xml"}, "", "log-format"},
		{[]string{"serve", "--listen=nope"}, "", "listen"},
		{[]string{"serve"}, "KUBEGATE_SHUTDOWN_TIMEOUT=forever", "KUBEGATE_SHUTDOWN_TIMEOUT"},
		{[]string{"serve", "--no-such-flag"}, "", "no-such-flag"},
		{[]string{"frobnicate"}, "", `unknown command "frobnicate"`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(binary, tc.args...)
			cmd.Env = os.Environ()
			if tc.env != "" {
				cmd.Env = append(cmd.Env, tc.env)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 {
				t.Fatalf("exit = %v, want 2; stderr: %s", err, stderr.String())
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if !strings.Contains(first, tc.want) {
				t.Fatalf("first line %q does not name %q", first, tc.want)
			}
			if len(tc.args) > 0 && tc.args[0] == "serve" && strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Fatalf("want exactly one line, got:\n%s", stderr.String())
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "kubegate ") {
		t.Fatalf("version = %q, %v", out, err)
	}
}
