package e2e

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kubegate/kubegate/test/testhttp"
)

// peakRSS is the most memory the process has held, from /proc.
func peakRSS(t *testing.T, p *proc) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(p.Cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// 150 wrong logins for one user at once: each attempt counts before its password
// is hashed, so no more than the per-user limit are hashed, and the hashing that
// does run is bounded, so memory stays flat (unbounded, 150 argon2id hashes of
// 19 MiB each took 2.9 GB).
func TestParallelWrongLoginsAreCountedBeforeHashing(t *testing.T) {
	p, url := gateway(t)
	before := peakRSS(t, p)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 150 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := testhttp.Call(t, http.DefaultClient, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": "wrong-password"})
			mu.Lock()
			codes[r.Code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[401] > 10 || codes[401]+codes[429] != 150 {
		t.Fatalf("answers = %v; want at most 10 checked (401), the rest refused (429)", codes)
	}
	if grew := peakRSS(t, p) - before; grew > 200<<20 {
		t.Fatalf("peak memory grew by %d MiB during the burst", grew>>20)
	}
}

// Access keys are not secret (every token names its key): failures from one
// address never block the owner's right secret from another.
func TestOthersFailuresNeverLockAKeyOut(t *testing.T) {
	_, url := gateway(t, "--trusted-proxies", "127.0.0.1/32")
	admin := login(t, url, "admin", adminPassword)
	ak, sk := createKey(t, url, admin)
	from := func(addr, secret string) reply {
		return testhttp.Call(t, http.DefaultClient, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+secret, "", nil, "X-Forwarded-For", addr)
	}
	for range 10 {
		want(t, from("203.0.113.66", "wrong"), 401)
	}
	want(t, from("203.0.113.66", "wrong"), 429)
	want(t, from("198.51.100.7", sk), 200)
}
