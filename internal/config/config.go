// Package config turns flags, KUBEGATE_* environment variables and an optional YAML
// file into one validated Config. Precedence: flag, then environment, then file, then
// the default. Every value passes through the same parser whatever its source, so a
// bad value is reported the same way, naming where it came from.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"sigs.k8s.io/yaml"

	"github.com/kubegate/kubegate"
)

// Config is the whole configuration of a kubegate process.
type Config struct {
	command     Command // what it configures
	ConfigFile  string
	Listen      string
	DataDir     string
	TLSCertFile string
	TLSKeyFile  string
	// H2C serves HTTP/2 in cleartext (prior knowledge) beside HTTP/1.1, for a
	// TLS-terminating proxy in front that speaks h2c to its backends.
	H2C             bool
	LogFormat       string
	LogLevel        slog.Level
	ShutdownTimeout time.Duration

	// Store is "sqlite" (a file in DataDir) or "postgres" (PostgresDSN), for HA.
	Store       string
	PostgresDSN string
	// EncryptionKeyFile holds the AES-256 key for secrets at rest; with SQLite it
	// defaults to DataDir/encryption.key, generated on first start.
	EncryptionKeyFile string

	// Accounts and tokens.
	MaxKeysPerUser int
	// MaxWatchesPerUser bounds the long-running requests (watches, followed
	// logs, exec) one user holds open at once; 0: no bound.
	MaxWatchesPerUser        int
	MaxPersonalTokensPerUser int
	PersonalTokenMaxTTL      time.Duration
	// KeyMaxLifetime bounds access keys' lifetime (0: unbounded); KeyExpiryRequired
	// refuses keys without an expiry.
	KeyMaxLifetime      time.Duration
	KeyExpiryRequired   bool
	TokenTTL            time.Duration
	TokenMaxTTL         time.Duration
	SessionTTL          time.Duration
	SessionIdleTimeout  time.Duration
	TokenSigningAlg     string
	TokenHMACSecretFile string
	Issuer              string
	Audience            string
	FailuresPerIP       int
	FailuresPerKey      int
	TrustedProxies      []netip.Prefix
	// GrantableRoles are the ClusterRoles administrators may grant.
	GrantableRoles []string
	// BootstrapAdminPassword comes from KUBEGATE_BOOTSTRAP_ADMIN_PASSWORD only: a
	// flag would show it in the process list.
	BootstrapAdminPassword string

	// Clusters are registered (or updated) at start-up: name → kubeconfig path.
	Clusters              []ClusterFlag
	ClusterDialTimeout    time.Duration
	ClusterHealthInterval time.Duration
	// MaxPageSize bounds list pages (and what pageSize=0 may return).
	MaxPageSize int
	// ListCache answers list queries from watch caches; CacheMemoryLimit (bytes)
	// bounds them, CacheIdleTimeout drops unused ones, CacheWait bounds a query's
	// wait for freshness before the cluster answers instead.
	ListCache        bool
	CacheMemoryLimit int
	CacheIdleTimeout time.Duration
	// CacheMaxCollections bounds how many (cluster, resource) caches exist at once.
	CacheMaxCollections int
	CacheWait           time.Duration
	// CacheStaleness bounds how long ago a collection's watch was heard from for
	// the cache to answer without asking the cluster.
	CacheStaleness time.Duration
	// ExternalURL is how clients reach the gateway, for generated kubeconfigs.
	ExternalURL string
	// ExternalCAFile is the CA (PEM) that generated kubeconfigs trust for the
	// gateway, when its certificate is not from a public CA.
	ExternalCAFile string

	// MetricsListen, when set, serves /metrics on its own address instead of the
	// main one; MetricsTokenFile, when set, holds a bearer token /metrics requires.
	MetricsListen    string
	MetricsTokenFile string
	// AuditRetention is how long audit events are kept; 0 keeps them for ever.
	AuditRetention time.Duration
	// InClusterServer is the apiserver of the cluster kubegate runs in, from
	// KUBERNETES_SERVICE_HOST/PORT ("" outside a pod); with the service account
	// in ServiceAccountDir it is registered as the cluster "local".
	InClusterServer   string
	ServiceAccountDir string

	// ImportKubeconfig reaches KubeCube's control cluster (ImportContext: its
	// context, "" for the current one); DryRun reports without writing.
	ImportKubeconfig string
	ImportContext    string
	DryRun           bool
	// ImportExistingUsers gives keys to users that existed before the import;
	// ImportAdmins carries KubeCube's platform administrators over as such.
	ImportExistingUsers bool
	ImportAdmins        bool

	// KubeBinDir holds kube-apiserver, etcd and kubectl for `kubegate demo`; empty
	// means kubeenv's default.
	KubeBinDir string
}

// UsageError is a configuration mistake: the process should print it and exit 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Command names the subcommand being configured; some flags exist only for some.
type Command string

// The subcommands that take a Config.
const (
	Serve Command = "serve"
	Demo  Command = "demo"
	// ImportKubeCube is `kubegate import kubecube`: the store settings of serve,
	// and where KubeCube runs.
	ImportKubeCube Command = "import kubecube"
)

// EnvPrefix prefixes the environment variable of every flag: --log-format is
// KUBEGATE_LOG_FORMAT.
const EnvPrefix = "KUBEGATE_"

// EnvName returns the environment variable that sets flag name.
func EnvName(name string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Parse builds the Config of cmd from args, the environment (through getenv) and
// the YAML file named by --config or KUBEGATE_CONFIG. usage receives the help text
// when -h is given; Parse then returns flag.ErrHelp.
func Parse(cmd Command, args []string, getenv func(string) string, usage io.Writer) (*Config, error) {
	// Defaults are set before the flags are defined so that --help shows them.
	c := &Config{
		command:                  cmd,
		Listen:                   ":8080",
		DataDir:                  "./kubegate-data",
		LogFormat:                "text",
		ShutdownTimeout:          30 * time.Second,
		Store:                    "sqlite",
		MaxKeysPerUser:           5,
		MaxWatchesPerUser:        100,
		GrantableRoles:           []string{"view", "edit", "admin"},
		MaxPersonalTokensPerUser: 10,
		PersonalTokenMaxTTL:      365 * 24 * time.Hour,
		TokenTTL:                 time.Hour,
		TokenMaxTTL:              7 * 24 * time.Hour,
		SessionTTL:               12 * time.Hour,
		SessionIdleTimeout:       30 * time.Minute,
		TokenSigningAlg:          "ES256",
		Issuer:                   "kubegate",
		Audience:                 "kubegate",
		FailuresPerIP:            60,
		FailuresPerKey:           10,
		ClusterDialTimeout:       5 * time.Second,
		ClusterHealthInterval:    30 * time.Second,
		MaxPageSize:              5000,
		CacheMemoryLimit:         1 << 30,
		CacheIdleTimeout:         10 * time.Minute,
		CacheMaxCollections:      64,
		CacheWait:                250 * time.Millisecond,
		CacheStaleness:           5 * time.Second,
		AuditRetention:           30 * 24 * time.Hour,
	}
	c.BootstrapAdminPassword = getenv("KUBEGATE_BOOTSTRAP_ADMIN_PASSWORD")
	if host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT"); host != "" && port != "" {
		c.InClusterServer = "https://" + net.JoinHostPort(host, port)
	}
	c.ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	fs := flag.NewFlagSet("kubegate "+string(cmd), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.ConfigFile, "config", "", "YAML file with settings, keyed by flag name")
	fs.Var(&listenValue{&c.Listen}, "listen", "address to serve HTTP(S) on, host:port")
	fs.Var(&pathValue{&c.DataDir}, "data-dir", "directory for the embedded database and generated keys")
	fs.Var(&pathValue{&c.TLSCertFile}, "tls-cert-file", "serve HTTPS with this certificate (PEM); needs --tls-key-file")
	fs.BoolVar(&c.H2C, "h2c", false, "without TLS, also serve HTTP/2 in cleartext (h2c, prior knowledge), for a TLS-terminating proxy in front that speaks it; with TLS, HTTP/2 is negotiated already")
	fs.Var(&pathValue{&c.TLSKeyFile}, "tls-key-file", "private key (PEM) of --tls-cert-file")
	fs.Var(&enumValue{p: &c.LogFormat, allowed: []string{"text", "json"}}, "log-format", "log format: text or json")
	fs.Var(&levelValue{&c.LogLevel}, "log-level", "lowest level logged: debug, info, warn or error")
	fs.Var(&durationValue{p: &c.ShutdownTimeout, min: time.Second}, "shutdown-timeout", "how long in-flight requests may run after SIGTERM")
	fs.Var(&enumValue{p: &c.Store, allowed: []string{"sqlite", "postgres"}}, "store", "where state is kept: sqlite (in --data-dir) or postgres (--postgres-dsn; for several replicas)")
	fs.Var(&pathValue{&c.PostgresDSN}, "postgres-dsn", "PostgreSQL connection string for --store=postgres, e.g. postgres://user@host:5432/db")
	fs.Var(&pathValue{&c.EncryptionKeyFile}, "encryption-key-file", "AES-256 key (32 bytes, raw, base64 or hex) encrypting secrets at rest; generated in --data-dir with sqlite when absent")
	fs.Var(&intValue{p: &c.MaxKeysPerUser, min: 1, max: 1000}, "max-keys-per-user", "how many access keys one user may have")
	fs.Var(&intValue{p: &c.MaxWatchesPerUser, min: 0, max: 100000}, "max-watches-per-user", "how many long-running requests (watches, followed logs, exec, port-forward) one user may hold open at once, over all their credentials; 0: no bound")
	fs.Var(&intValue{p: &c.MaxPersonalTokensPerUser, min: 1, max: 1000}, "max-personal-tokens-per-user", "how many personal access tokens (DCE) one user may have")
	fs.Var(&durationValue{p: &c.KeyMaxLifetime}, "key-max-lifetime", "longest lifetime of an access key (0: no limit); with a limit, keys must have an expiry. The starting policy: administrators change it at run time (console Settings, PUT /api/v1/cube/settings/credential-policy)")
	fs.BoolVar(&c.KeyExpiryRequired, "key-expiry-required", false, "refuse access keys that never expire")
	fs.Var(&durationValue{p: &c.PersonalTokenMaxTTL, min: time.Hour}, "personal-token-max-ttl", "longest lifetime of a personal access token (and the lifetime of one asked for without expiredAt)")
	fs.Var(&durationValue{p: &c.TokenTTL, min: time.Minute}, "token-ttl", "lifetime of tokens exchanged from access keys (KubeCube's default: 1h)")
	fs.Var(&durationValue{p: &c.TokenMaxTTL, min: time.Minute}, "token-max-ttl", "longest lifetime a caller may ask for (expiresIn, DCE's cycle); longer requests are clamped")
	fs.Var(&durationValue{p: &c.SessionTTL, min: time.Minute}, "session-ttl", "longest a console login lasts, however busy (absolute expiry)")
	fs.Var(&durationValue{p: &c.SessionIdleTimeout, min: 5 * time.Minute}, "session-idle-timeout", "a console login unused for this long ends (idle expiry; capped at --session-ttl)")
	fs.Var(&enumValue{p: &c.TokenSigningAlg, allowed: []string{"ES256", "RS256", "HS256"}}, "token-signing-alg", "JWT signing algorithm; HS256 needs --token-hmac-secret-file")
	fs.Var(&pathValue{&c.TokenHMACSecretFile}, "token-hmac-secret-file", "shared secret (at least 32 bytes) for HS256 tokens, for drop-in KubeCube deployments")
	fs.Var(&pathValue{&c.Issuer}, "issuer", "the iss claim of tokens (and the OpenID issuer)")
	fs.Var(&pathValue{&c.Audience}, "audience", "the aud claim of tokens")
	fs.Var(&intValue{p: &c.FailuresPerIP, min: 0, max: 1 << 20}, "exchange-rate-per-ip", "failed token exchanges and logins allowed per client address per minute (0: no limit)")
	fs.Var(&intValue{p: &c.FailuresPerKey, min: 0, max: 1 << 20}, "exchange-rate-per-key", "failed token exchanges allowed per access key (and logins per user name) per minute (0: no limit)")
	fs.Var(&roleListValue{&c.GrantableRoles}, "grantable-roles", "comma-separated ClusterRoles that administrators may grant to users and teams (give the gateway `bind` on each, see docs/clusters.md); cluster-admin only if listed here")
	fs.Var(&cidrListValue{&c.TrustedProxies}, "trusted-proxies", "comma-separated addresses or CIDRs of proxies whose X-Forwarded-For is believed")
	fs.Var(&clusterListValue{&c.Clusters}, "cluster", "register a cluster at start-up, NAME=KUBECONFIG_PATH; repeatable (environment: comma-separated)")
	fs.Var(&durationValue{p: &c.ClusterDialTimeout, min: 100 * time.Millisecond}, "cluster-dial-timeout", "how long connecting to a cluster may take before the call is a 503")
	fs.Var(&durationValue{p: &c.ClusterHealthInterval, min: time.Second}, "cluster-health-interval", "how often each cluster's /version is checked")
	fs.Var(&intValue{p: &c.MaxPageSize, min: 1, max: 1_000_000}, "max-page-size", "largest list page (pageSize), and the most items pageSize=0 may return")
	fs.BoolVar(&c.ListCache, "list-cache", true, "answer list queries (selector, sort, paging) from per-collection watch caches, for every collection the gateway's own identity may list and watch (asked per cluster and resource; never Secrets); false: the cluster answers every list")
	fs.Var(&intValue{p: &c.CacheMemoryLimit, min: 1 << 20, max: 1 << 40}, "cache-memory-limit", "bytes all list caches may hold; past it the least recently used are dropped")
	fs.Var(&durationValue{p: &c.CacheIdleTimeout, min: time.Minute}, "cache-idle-timeout", "drop a list cache no query used for this long")
	fs.Var(&intValue{p: &c.CacheMaxCollections, min: 1, max: 100_000}, "cache-max-collections", "most list caches (one per cluster and resource) held at once; past it queries read their clusters")
	fs.Var(&durationValue{p: &c.CacheWait, min: time.Millisecond}, "cache-wait", "longest a list query waits for its cache to be fresh before the cluster answers it")
	fs.Var(&durationValue{p: &c.CacheStaleness, min: 4 * time.Second}, "cache-staleness", "the cache answers a list while its watch was heard from within this long (every write through the gateway is waited for); past it the cluster answers")
	fs.Var(&urlValue{&c.ExternalURL}, "external-url", "the gateway's URL as clients reach it, for generated kubeconfigs (default: the request's host)")
	fs.Var(&listenValue{&c.MetricsListen}, "metrics-listen", "serve /metrics on this host:port only, e.g. an address the monitoring network alone reaches (default: the main address)")
	fs.Var(&pathValue{&c.MetricsTokenFile}, "metrics-token-file", "file holding a bearer token that /metrics requires (default: /metrics is open)")
	fs.Var(&pathValue{&c.ServiceAccountDir}, "service-account-dir", "in a pod, where the service account's token and ca.crt are (registered as the cluster local; the token is re-read as it rotates)")
	fs.Var(&durationValue{p: &c.AuditRetention}, "audit-retention", "how long audit events are kept (0: for ever)")
	fs.Var(&pathValue{&c.ExternalCAFile}, "external-ca-file", "CA certificate (PEM) embedded in generated kubeconfigs, for a gateway certificate from a private CA")
	if cmd == ImportKubeCube {
		fs.Var(&pathValue{&c.ImportKubeconfig}, "kubeconfig", "kubeconfig of KubeCube's control cluster, where its users and keys are (required)")
		fs.Var(&pathValue{&c.ImportContext}, "context", "the kubeconfig's context (default: its current one)")
		fs.BoolVar(&c.DryRun, "dry-run", false, "report what would be imported, write nothing")
		fs.BoolVar(&c.ImportExistingUsers, "existing-users", false, "give KubeCube keys to kubegate users of the same name that existed before the import (default: skip those keys)")
		fs.BoolVar(&c.ImportAdmins, "import-admins", false, "make KubeCube's platform administrators gateway administrators (default: ordinary users)")
	}
	if cmd == Demo {
		fs.Var(&pathValue{&c.KubeBinDir}, "kube-bin-dir", "directory with kube-apiserver, etcd and kubectl, built when missing (default: $KUBEGATE_KUBE_BIN, or the kubegate cache directory)")
	}
	fs.Usage = func() { printUsage(usage, fs) }

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return nil, err
		}
		return nil, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q (flags only)", fs.Arg(0))
	}
	if err := fillUnset(fs, getenv); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// fillUnset gives every flag not set on the command line its value from the
// environment or, failing that, from the config file.
func fillUnset(fs *flag.FlagSet, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if !set["config"] {
		if v := getenv(EnvName("config")); v != "" {
			if err := fs.Set("config", v); err != nil {
				return usagef("invalid value %q for %s: %v", v, EnvName("config"), err)
			}
		}
	}
	file, err := readFile(fs.Lookup("config").Value.String(), fs)
	if err != nil {
		return err
	}

	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" {
			return
		}
		if v, ok := lookupEnv(getenv, EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, usagef("invalid value %q for %s: %v", v, EnvName(f.Name), err))
			}
			return
		}
		if v, ok := file.values[f.Name]; ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, usagef("config file %s: invalid value %q for %q: %v", file.path, v, f.Name, err))
			}
		}
	})
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

type fileValues struct {
	path   string
	values map[string]string
}

// readFile reads the YAML config file: a flat map from flag names to scalars.
func readFile(path string, fs *flag.FlagSet) (fileValues, error) {
	fv := fileValues{path: path, values: map[string]string{}}
	if path == "" {
		return fv, nil
	}
	data, err := os.ReadFile(path) //nolint:gosec // the operator names the file.
	if err != nil {
		return fv, usagef("--config: %v", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return fv, usagef("config file %s: not a YAML map of settings: %v", path, err)
	}
	for k, v := range raw {
		if fs.Lookup(k) == nil || k == "config" {
			return fv, usagef("config file %s: unknown setting %q", path, k)
		}
		s, err := scalar(v)
		if err != nil {
			return fv, usagef("config file %s: setting %q: %v", path, k, err)
		}
		fv.values[k] = s
	}
	return fv, nil
}

func scalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			s, err := scalar(e)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	default:
		return "", fmt.Errorf("must be a string, number, boolean or list, got %T", v)
	}
}

// Validate checks the settings that depend on each other or on files. Parse calls
// it; a program that derives a Config from another (the demo) calls it again.
func (c *Config) Validate() error {
	if c.Store == "postgres" {
		if c.PostgresDSN == "" {
			return usagef("--store=postgres needs --postgres-dsn")
		}
		if _, err := pgconn.ParseConfig(c.PostgresDSN); err != nil {
			// The parser's message can quote the DSN, password included: say less.
			return usagef("invalid value for --postgres-dsn: not a PostgreSQL connection string or URL")
		}
		if c.EncryptionKeyFile == "" {
			return usagef("--store=postgres needs --encryption-key-file: every replica must share the key")
		}
	}
	if c.TokenTTL > c.TokenMaxTTL {
		return usagef("--token-ttl (%s) must not exceed --token-max-ttl (%s)", c.TokenTTL, c.TokenMaxTTL)
	}
	if p := (kubegate.CredentialPolicy{KeyMaxLifetime: c.KeyMaxLifetime, KeyExpiryRequired: c.KeyExpiryRequired, TokenMaxLifetime: c.PersonalTokenMaxTTL}); p.Validate() != nil {
		return usagef("--key-max-lifetime or --personal-token-max-ttl: %s", kubegate.ErrorMessage(p.Validate()))
	}
	// A login cannot idle longer than it lasts: a short --session-ttl caps the
	// default idle timeout instead of refusing to start.
	c.SessionIdleTimeout = min(c.SessionIdleTimeout, c.SessionTTL)
	if c.SessionTTL > c.TokenMaxTTL {
		return usagef("--session-ttl (%s) must not exceed --token-max-ttl (%s)", c.SessionTTL, c.TokenMaxTTL)
	}
	if (c.TokenSigningAlg == "HS256") != (c.TokenHMACSecretFile != "") {
		return usagef("--token-hmac-secret-file is needed with, and only with, --token-signing-alg=HS256")
	}
	if c.TokenHMACSecretFile != "" {
		if st, err := os.Stat(c.TokenHMACSecretFile); err != nil {
			return usagef("invalid value %q for --token-hmac-secret-file: %v", c.TokenHMACSecretFile, err)
		} else if st.Size() < 32 {
			return usagef("invalid value %q for --token-hmac-secret-file: the secret must be at least 32 bytes", c.TokenHMACSecretFile)
		}
	}
	if c.command == ImportKubeCube && c.ImportKubeconfig == "" {
		return usagef("--kubeconfig is required: the kubeconfig of KubeCube's control cluster")
	}
	if c.AuditRetention != 0 && c.AuditRetention < time.Hour {
		return usagef("--audit-retention (%s) must be 0 (keep for ever) or at least 1h", c.AuditRetention)
	}
	if c.MetricsTokenFile != "" {
		if b, err := os.ReadFile(c.MetricsTokenFile); err != nil {
			return usagef("invalid value %q for --metrics-token-file: %v", c.MetricsTokenFile, err)
		} else if len(strings.TrimSpace(string(b))) < 16 {
			return usagef("invalid value %q for --metrics-token-file: the token must be at least 16 characters", c.MetricsTokenFile)
		}
	}
	if c.ExternalCAFile != "" {
		if _, err := os.Stat(c.ExternalCAFile); err != nil {
			return usagef("invalid value %q for --external-ca-file: %v", c.ExternalCAFile, err)
		}
	}
	if c.EncryptionKeyFile != "" {
		if _, err := os.Stat(c.EncryptionKeyFile); err != nil {
			return usagef("invalid value %q for --encryption-key-file: %v", c.EncryptionKeyFile, err)
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return usagef("--tls-cert-file and --tls-key-file must be given together")
	}
	if c.H2C && c.TLSCertFile != "" {
		return usagef("--h2c is for serving without TLS; with --tls-cert-file, clients negotiate HTTP/2 already")
	}
	// In flag order, so that the message names the same one every time.
	for _, f := range []struct{ name, path string }{{"tls-cert-file", c.TLSCertFile}, {"tls-key-file", c.TLSKeyFile}} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(f.path); err != nil {
			return usagef("invalid value %q for --%s: %v", f.path, f.name, err)
		} else if st.IsDir() {
			return usagef("invalid value %q for --%s: is a directory", f.path, f.name)
		}
	}
	return nil
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	if w == nil {
		return
	}
	fmt.Fprintf(w, "Usage: %s [flags]\n\nEvery flag can also be set with its KUBEGATE_* variable or in --config.\n\n", fs.Name())
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, n := range names {
		f := fs.Lookup(n)
		def := ""
		if f.DefValue != "" {
			def = fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintf(w, "  --%s  [%s]\n      %s%s\n", n, EnvName(n), f.Usage, def)
	}
}

// Value types: each parses and validates in Set, so flags, environment and file
// share one error message.

type listenValue struct{ p *string }

func (v *listenValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *listenValue) Set(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("must be host:port, e.g. :8080 or 127.0.0.1:8080")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q must be a number from 0 to 65535", port)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
		return fmt.Errorf("host %q is not an IP address or a host name", host)
	}
	*v.p = s
	return nil
}

type pathValue struct{ p *string }

func (v *pathValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *pathValue) Set(s string) error {
	if strings.ContainsRune(s, 0) {
		return errors.New("contains a NUL byte")
	}
	*v.p = s
	return nil
}

type enumValue struct {
	p       *string
	allowed []string
}

func (v *enumValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *enumValue) Set(s string) error {
	for _, a := range v.allowed {
		if s == a {
			*v.p = s
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(v.allowed, ", "))
}

type levelValue struct{ p *slog.Level }

func (v *levelValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.ToLower(v.p.String())
}

func (v *levelValue) Set(s string) error {
	switch strings.ToLower(s) {
	case "debug":
		*v.p = slog.LevelDebug
	case "info":
		*v.p = slog.LevelInfo
	case "warn", "warning":
		*v.p = slog.LevelWarn
	case "error":
		*v.p = slog.LevelError
	default:
		return errors.New("must be one of debug, info, warn, error")
	}
	return nil
}

type durationValue struct {
	p   *time.Duration
	min time.Duration
}

func (v *durationValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("must be a duration such as 30s, 5m or 1h")
	}
	if d < v.min {
		return fmt.Errorf("must be at least %s", v.min)
	}
	*v.p = d
	return nil
}

type intValue struct {
	p        *int
	min, max int
}

func (v *intValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < v.min || n > v.max {
		return fmt.Errorf("must be an integer from %d to %d", v.min, v.max)
	}
	*v.p = n
	return nil
}

// roleListValue is a list of ClusterRole names.
type roleListValue struct{ p *[]string }

func (v *roleListValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v *roleListValue) Set(s string) error {
	out := []string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if err := kubegate.ValidateRoleName(part); err != nil {
			return err
		}
		if !slices.Contains(out, part) {
			out = append(out, part)
		}
	}
	*v.p = out
	return nil
}

type cidrListValue struct{ p *[]netip.Prefix }

func (v *cidrListValue) String() string {
	if v.p == nil {
		return ""
	}
	parts := make([]string, 0, len(*v.p))
	for _, p := range *v.p {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ",")
}

func (v *cidrListValue) Set(s string) error {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return fmt.Errorf("%q is not an IP address or CIDR", part)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	*v.p = out
	return nil
}

// ClusterFlag is one --cluster NAME=PATH.
type ClusterFlag struct {
	Name       string
	Kubeconfig string
}

type clusterListValue struct{ p *[]ClusterFlag }

func (v *clusterListValue) String() string {
	if v.p == nil {
		return ""
	}
	parts := make([]string, 0, len(*v.p))
	for _, c := range *v.p {
		parts = append(parts, c.Name+"="+c.Kubeconfig)
	}
	return strings.Join(parts, ",")
}

// Set adds one or more comma-separated NAME=PATH pairs.
func (v *clusterListValue) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		name, path, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("%q must be NAME=KUBECONFIG_PATH", part)
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("cluster %s: %w", name, err)
		}
		*v.p = append(*v.p, ClusterFlag{Name: name, Kubeconfig: path})
	}
	return nil
}

type urlValue struct{ p *string }

func (v *urlValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *urlValue) Set(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must be an http(s) URL such as https://kubegate.example.com")
	}
	*v.p = strings.TrimSuffix(s, "/")
	return nil
}
