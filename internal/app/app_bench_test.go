package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kubegate/kubegate/internal/app"
	"github.com/kubegate/kubegate/internal/config"
	"github.com/kubegate/kubegate/test/testhttp"
)

// BenchmarkTokenExchangeHTTP measures KubeCube-style token exchanges over loopback
// HTTP with parallel clients, against GET /healthz through the same server and
// client as the baseline.
func BenchmarkTokenExchangeHTTP(b *testing.B) {
	env := map[string]string{"KUBEGATE_BOOTSTRAP_ADMIN_PASSWORD": "bench-password-123"}
	cfg, err := config.Parse(config.Serve, []string{"--listen", "127.0.0.1:0", "--data-dir", b.TempDir()}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	url := a.URL()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(path, token, body string) map[string]any {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		var resp *http.Response
		for range 100 { // the server starts serving right after Run begins
			if resp, err = client.Do(req); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return m
	}
	tok := post("/api/v1/cube/login", "", `{"name":"admin","password":"bench-password-123"}`)["token"].(string)
	key := post("/api/v1/cube/key/create", tok, "")
	exchange := url + "/api/v1/cube/key/token?accessKey=" + key["accessKey"].(string) + "&secretKey=" + key["secretKey"].(string)

	b.Run("baseline", func(b *testing.B) { testhttp.ParallelGET(b, client, url+"/healthz", "") })
	b.Run("exchange", func(b *testing.B) { testhttp.ParallelGET(b, client, exchange, "") })
}
