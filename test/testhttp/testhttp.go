// Package testhttp holds the HTTP helpers the black-box tests and benchmarks share:
// one call that returns a fully read reply, and a parallel GET load for benchmarks.
package testhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Reply is a response already read and closed.
type Reply struct {
	Code   int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object.
func (r Reply) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Want fails the test unless the reply has the status code.
func Want(t testing.TB, r Reply, code int) Reply {
	t.Helper()
	if r.Code != code {
		t.Fatalf("status %d, want %d: %s", r.Code, code, r.Body)
	}
	return r
}

// Call sends a request with an optional bearer token, JSON body and extra headers
// (name, value pairs) and reads the whole reply; a failed request fails the test.
func Call(t testing.TB, client *http.Client, method, url, token string, body any, headers ...string) Reply {
	t.Helper()
	r, err := Try(client, method, url, token, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Try is Call for goroutines and for servers that may be gone: it returns the
// error of a request that got no reply.
func Try(client *http.Client, method, url, token string, body any, headers ...string) (Reply, error) {
	var rd io.Reader
	if raw, ok := body.([]byte); ok { // sent as it is (set its Content-Type in headers)
		rd = bytes.NewReader(raw)
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		return Reply{}, err
	}
	if _, raw := body.([]byte); body != nil && !raw {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return Reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Reply{}, err
	}
	return Reply{resp.StatusCode, resp.Header, b}, nil
}

// ParallelGET loads url with GETs from parallel goroutines for the benchmark's
// iterations, failing on any status but 200, and reports req/s.
func ParallelGET(b *testing.B, client *http.Client, url, token string) {
	b.SetParallelism(4)
	var mu sync.Mutex
	var all []time.Duration
	b.RunParallel(func(pb *testing.PB) {
		var lat []time.Duration
		defer func() { mu.Lock(); all = append(all, lat...); mu.Unlock() }()
		for pb.Next() {
			start := time.Now()
			if err := get(client, url, token); err != nil {
				b.Error(err)
				return
			}
			lat = append(lat, time.Since(start))
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	reportP50(b, all)
}

// SequentialGET GETs url with one client, one request at a time, and reports
// the p50 latency.
func SequentialGET(b *testing.B, client *http.Client, url, token string) {
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := get(client, url, token); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	reportP50(b, lat)
}

func get(client *http.Client, url, token string) error {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func reportP50(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/float64(time.Microsecond), "p50-µs")
}

// CPUTime is the CPU (user and system) process pid has used so far, from
// /proc: what a benchmark divides by its requests to say what one costs each
// process that served it. Zero where /proc cannot tell.
func CPUTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// ReportCPU reports, per benchmark iteration, the CPU each named process used
// while f ran, in µs.
func ReportCPU(b *testing.B, pids map[string]int, f func()) {
	before := map[string]time.Duration{}
	for name, pid := range pids {
		before[name] = CPUTime(pid)
	}
	f()
	for name, pid := range pids {
		b.ReportMetric(float64(CPUTime(pid)-before[name])/float64(time.Microsecond)/float64(b.N), name+"-cpu-µs/req")
	}
}
