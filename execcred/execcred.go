// Package execcred is `kubegate token`: a client-go exec credential plugin. kubectl
// runs it for every call through a kubeconfig from
// /api/v1/cube/clusters/{name}/kubeconfig; it exchanges the user's access key pair
// for a token and caches the token until shortly before it expires.
package execcred

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientauthv1 "k8s.io/client-go/pkg/apis/clientauthentication/v1"
)

// Options configures one run.
type Options struct {
	Server    string // the gateway's base URL
	AccessKey string
	SecretKey string
	CAFile    string // trust this CA for an https gateway with a private CA
	// ExecInfo is $KUBERNETES_EXEC_INFO: client-go passes the cluster's
	// certificate-authority-data there, which then needs no CAFile.
	ExecInfo string
	CacheDir string // "" disables the cache
	Now      func() time.Time
	// RefreshBefore is how long before expiry a cached token is replaced.
	RefreshBefore time.Duration
}

type cached struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Run prints an ExecCredential with a valid token to out.
func Run(ctx context.Context, o Options, out io.Writer) error {
	if o.Server == "" {
		return errors.New("--server (KUBEGATE_SERVER) is required")
	}
	if o.AccessKey == "" || o.SecretKey == "" {
		return errors.New("an access key pair is required: set KUBEGATE_ACCESS_KEY and KUBEGATE_SECRET_KEY (or --access-key/--secret-key)")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RefreshBefore == 0 {
		o.RefreshBefore = 2 * time.Minute
	}
	path := ""
	if o.CacheDir != "" {
		sum := sha256.Sum256([]byte(o.Server + "\x00" + o.AccessKey))
		path = filepath.Join(o.CacheDir, hex.EncodeToString(sum[:12])+".json")
		if c, ok := readCache(path); ok && o.Now().Add(o.RefreshBefore).Before(c.ExpiresAt) {
			return write(out, c)
		}
	}
	c, err := exchange(ctx, o)
	if err != nil {
		return err
	}
	if path != "" {
		if err := writeCache(path, c); err != nil {
			fmt.Fprintf(os.Stderr, "kubegate token: not caching the token: %v\n", err)
		}
	}
	return write(out, c)
}

func exchange(ctx context.Context, o Options) (cached, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	var caPEM []byte
	if o.CAFile != "" {
		var err error
		if caPEM, err = os.ReadFile(o.CAFile); err != nil {
			return cached{}, err
		}
	} else if o.ExecInfo != "" {
		var info clientauthv1.ExecCredential
		if err := json.Unmarshal([]byte(o.ExecInfo), &info); err == nil && info.Spec.Cluster != nil {
			caPEM = info.Spec.Cluster.CertificateAuthorityData
		}
	}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return cached{}, errors.New("the gateway's certificate authority holds no PEM certificate")
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	// POST keeps the secret out of URLs and access logs.
	body, _ := json.Marshal(map[string]string{"accessKey": o.AccessKey, "secretKey": o.SecretKey})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(o.Server, "/")+"/api/v1/cube/key/token", bytes.NewReader(body))
	if err != nil {
		return cached{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return cached{}, fmt.Errorf("exchanging the access key: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return cached{}, err
	}
	if resp.StatusCode != http.StatusOK {
		var st metav1.Status
		if json.Unmarshal(data, &st) == nil && st.Message != "" {
			return cached{}, fmt.Errorf("exchanging the access key: %s (%d)", st.Message, resp.StatusCode)
		}
		return cached{}, fmt.Errorf("exchanging the access key: HTTP %d", resp.StatusCode)
	}
	var r struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	if err := json.Unmarshal(data, &r); err != nil || r.Token == "" {
		return cached{}, errors.New("exchanging the access key: the gateway answered no token")
	}
	return cached{Token: r.Token, ExpiresAt: r.ExpiresAt}, nil
}

func write(out io.Writer, c cached) error {
	exp := metav1.NewTime(c.ExpiresAt)
	cred := clientauthv1.ExecCredential{
		TypeMeta: metav1.TypeMeta{APIVersion: "client.authentication.k8s.io/v1", Kind: "ExecCredential"},
		Status:   &clientauthv1.ExecCredentialStatus{Token: c.Token, ExpirationTimestamp: &exp},
	}
	return json.NewEncoder(out).Encode(cred)
}

func readCache(path string) (cached, bool) {
	data, err := os.ReadFile(path) //nolint:gosec // our own cache file.
	if err != nil {
		return cached{}, false
	}
	var c cached
	if json.Unmarshal(data, &c) != nil || c.Token == "" {
		return cached{}, false
	}
	return c, true
}

// writeCache writes the token readable by the user only, atomically.
func writeCache(path string, c cached) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".token-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
