package config_test

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubegate/kubegate/internal/config"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := config.Parse(config.Serve, nil, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.DataDir != "./kubegate-data" || c.LogFormat != "text" ||
		c.LogLevel != slog.LevelInfo || c.ShutdownTimeout != 30*time.Second {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestPrecedenceFlagOverEnvOverFile(t *testing.T) {
	file := writeFile(t, "kubegate.yaml", "listen: 127.0.0.1:7000\nlog-format: json\ndata-dir: /from/file\nshutdown-timeout: 5s\n")
	c, err := config.Parse(config.Serve,
		[]string{"--config", file, "--listen=127.0.0.1:9000"},
		env("KUBEGATE_LISTEN", "127.0.0.1:8000", "KUBEGATE_DATA_DIR", "/from/env"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" {
		t.Errorf("flag must win: listen = %q", c.Listen)
	}
	if c.DataDir != "/from/env" {
		t.Errorf("environment must beat the file: data-dir = %q", c.DataDir)
	}
	if c.LogFormat != "json" || c.ShutdownTimeout != 5*time.Second {
		t.Errorf("file values must apply: %+v", c)
	}
}

func TestConfigFileFromEnvironment(t *testing.T) {
	file := writeFile(t, "k.yaml", "log-level: debug\n")
	c, err := config.Parse(config.Serve, nil, env("KUBEGATE_CONFIG", file), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != slog.LevelDebug {
		t.Fatalf("log level = %v", c.LogLevel)
	}
}

func TestInvalidValuesNameTheSetting(t *testing.T) {
	cert := writeFile(t, "tls.crt", "x")
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		env  []string
		file string
		want string
	}{
		{"listen without port", []string{"--listen", "localhost"}, nil, "", "-listen"},
		{"listen bad port", []string{"--listen", ":99999"}, nil, "", "65535"},
		{"listen from env", nil, []string{"KUBEGATE_LISTEN", "nope"}, "", "KUBEGATE_LISTEN"},
		{"log format", []string{"--log-format=xml"}, nil, "", "must be one of text, json"},
		{"log level", []string{"--log-level=loud"}, nil, "", "-log-level"},
		{"duration", []string{"--shutdown-timeout=soon"}, nil, "", "-shutdown-timeout"},
		{"duration too small", []string{"--shutdown-timeout=1ms"}, nil, "", "at least 1s"},
		{"unknown flag", []string{"--listn=:80"}, nil, "", "listn"},
		{"stray argument", []string{"extra"}, nil, "", `"extra"`},
		{"tls half", []string{"--tls-cert-file", cert}, nil, "", "--tls-key-file"},
		{"tls missing file", []string{"--tls-cert-file", "/nope.crt", "--tls-key-file", "/nope.key"}, nil, "", "--tls-cert-file"},
		{"tls directory", []string{"--tls-cert-file", dir, "--tls-key-file", cert}, nil, "", "is a directory"},
		{"file unknown key", nil, nil, "lsten: :80\n", `unknown setting "lsten"`},
		{"file bad value", nil, nil, "log-format: xml\n", `"log-format"`},
		{"file not a map", nil, nil, "- a\n- b\n", "not a YAML map"},
		{"file nested value", nil, nil, "listen: {a: b}\n", `setting "listen"`},
		{"store unknown", []string{"--store=mysql"}, nil, "", "must be one of sqlite, postgres"},
		{"postgres without dsn", []string{"--store=postgres"}, nil, "", "--postgres-dsn"},
		{"postgres bad dsn", []string{"--store=postgres", "--postgres-dsn=://x:secretpw@"}, nil, "", "--postgres-dsn"},
		{"postgres without key", []string{"--store=postgres", "--postgres-dsn=postgres://u@h/db"}, nil, "", "--encryption-key-file"},
		{"key file missing", []string{"--encryption-key-file=/nope.key"}, nil, "", "--encryption-key-file"},
		{"max keys", []string{"--max-keys-per-user=0"}, nil, "", "-max-keys-per-user"},
		{"ttl over max", []string{"--token-ttl=48h", "--token-max-ttl=24h"}, nil, "", "--token-max-ttl"},
		{"signing alg", []string{"--token-signing-alg=none"}, nil, "", "must be one of ES256, RS256, HS256"},
		{"hs256 without secret", []string{"--token-signing-alg=HS256"}, nil, "", "--token-hmac-secret-file"},
		{"hs256 short secret", []string{"--token-signing-alg=HS256", "--token-hmac-secret-file", cert}, nil, "", "at least 32 bytes"},
		{"trusted proxies", []string{"--trusted-proxies=10.0.0.0/8,banana"}, nil, "", `"banana"`},
		{"rate from env", nil, []string{"KUBEGATE_EXCHANGE_RATE_PER_KEY", "-1"}, "", "KUBEGATE_EXCHANGE_RATE_PER_KEY"},
		{"cluster without path", []string{"--cluster=prod"}, nil, "", "NAME=KUBECONFIG_PATH"},
		{"cluster missing file", []string{"--cluster=prod=/no/such/kubeconfig"}, nil, "", "cluster prod"},
		{"external url", []string{"--external-url=ftp://x"}, nil, "", "-external-url"},
		{"dial timeout", []string{"--cluster-dial-timeout=0s"}, nil, "", "-cluster-dial-timeout"},
		{"config file missing", []string{"--config", "/does/not/exist.yaml"}, nil, "", "--config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append(args, "--config", writeFile(t, "c.yaml", tc.file))
			}
			_, err := config.Parse(config.Serve, args, env(tc.env...), io.Discard)
			var ue *config.UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want a UsageError", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("message %q must be one line naming %q", msg, tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	_, err := config.Parse(config.Demo, []string{"--help"}, env(), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"--listen", "KUBEGATE_LISTEN", `default ":8080"`, "--kube-bin-dir"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPostgresDSNIsNeverEchoed(t *testing.T) {
	_, err := config.Parse(config.Serve, []string{"--store=postgres", "--postgres-dsn=postgres://u:hunter2@[bad"}, env(), io.Discard)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v; must fail without quoting the password", err)
	}
}

// A short --session-ttl caps the idle timeout's default instead of refusing to
// start a server configured before the idle timeout existed.
func TestShortSessionTTLCapsTheIdleTimeout(t *testing.T) {
	c, err := config.Parse(config.Serve, []string{"--session-ttl=10m"}, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.SessionIdleTimeout != 10*time.Minute {
		t.Fatalf("idle timeout %s, want the 10m session TTL", c.SessionIdleTimeout)
	}
}
