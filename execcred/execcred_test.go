package execcred_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientauthv1 "k8s.io/client-go/pkg/apis/clientauthentication/v1"

	"github.com/kubegate/kubegate/execcred"
)

func TestTokenIsExchangedOnceAndCached(t *testing.T) {
	var exchanges atomic.Int32
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/cube/key/token" || r.URL.RawQuery != "" {
			t.Errorf("exchange sent as %s %s?%s; the secret must not be in the URL", r.Method, r.URL.Path, r.URL.RawQuery)
		}
		if body["accessKey"] != "AK" || body["secretKey"] != "SK" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"kind":"Status","code":401,"message":"invalid access key or secret key"}`))
			return
		}
		n := exchanges.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"token": fmt.Sprintf("tok-%d", n), "expiresAt": now.Add(time.Hour)})
	}))
	defer gw.Close()

	o := execcred.Options{Server: gw.URL, AccessKey: "AK", SecretKey: "SK", CacheDir: t.TempDir(), Now: func() time.Time { return now }}
	read := func() clientauthv1.ExecCredential {
		t.Helper()
		var out bytes.Buffer
		if err := execcred.Run(context.Background(), o, &out); err != nil {
			t.Fatal(err)
		}
		var cred clientauthv1.ExecCredential
		if err := json.Unmarshal(out.Bytes(), &cred); err != nil {
			t.Fatal(err)
		}
		if cred.APIVersion != "client.authentication.k8s.io/v1" || cred.Kind != "ExecCredential" || cred.Status.ExpirationTimestamp == nil {
			t.Fatalf("credential = %+v", cred)
		}
		return cred
	}
	first := read()
	second := read()
	if first.Status.Token != "tok-1" || second.Status.Token != "tok-1" || exchanges.Load() != 1 {
		t.Fatalf("tokens %q %q after %d exchanges; want one cached exchange", first.Status.Token, second.Status.Token, exchanges.Load())
	}
	// Shortly before expiry, a new token is fetched.
	now = now.Add(59 * time.Minute)
	if third := read(); third.Status.Token != "tok-2" || exchanges.Load() != 2 {
		t.Fatalf("near expiry: token %q after %d exchanges", third.Status.Token, exchanges.Load())
	}

	o.SecretKey, o.CacheDir = "wrong", ""
	err := execcred.Run(context.Background(), o, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "invalid access key or secret key") {
		t.Fatalf("wrong secret: %v", err)
	}
	o.AccessKey = ""
	if err := execcred.Run(context.Background(), o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "KUBEGATE_ACCESS_KEY") {
		t.Fatalf("missing key: %v", err)
	}
}
