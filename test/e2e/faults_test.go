package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kubegate/kubegate/test/pgtest"
	"github.com/kubegate/kubegate/test/testhttp"
)

// eventually polls f until it is true or the time is up.
func eventually(t *testing.T, within time.Duration, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !f(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
	}
}

// PostgreSQL restarted under traffic (a private server, stopped and started by the
// test): calls that need the store answer 503 during the outage, tokens already
// known keep verifying from memory, everything recovers without restarting
// kubegate, and nothing acknowledged is lost.
func TestPostgresRestartUnderTraffic(t *testing.T) {
	pg, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	p, url := gateway(t, "--store=postgres", "--postgres-dsn="+pg.DSN, "--encryption-key-file="+pgtest.SharedKeyFile(t))
	admin := login(t, url, "admin", adminPassword)
	ak, sk := createKey(t, url, admin)
	minted := want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 200).JSON(t)["token"].(string)

	// Traffic: verification (memory only) and writes (the store), all the while.
	var stop atomic.Bool
	var verifyFailures atomic.Int32
	var mu sync.Mutex
	acknowledged := []string{} // users whose creation answered 201
	codes := map[int]int{}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if r, err := testhttp.Try(http.DefaultClient, "GET", url+"/api/v1/cube/whoami", minted, nil); err != nil || r.Code != 200 {
				verifyFailures.Add(1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			name := fmt.Sprintf("user-%d", i)
			r, err := testhttp.Try(http.DefaultClient, "POST", url+"/api/v1/cube/users", admin, map[string]any{"name": name, "password": "password-" + name})
			if err != nil {
				r.Code = -1 // no reply at all
			}
			mu.Lock()
			codes[r.Code]++
			if r.Code == 201 {
				acknowledged = append(acknowledged, name)
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()

	time.Sleep(500 * time.Millisecond)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "store-backed calls answer 503 during the outage", func() bool {
		return call(t, "GET", url+"/api/v1/cube/key", admin, nil).Code == 503
	})
	want(t, call(t, "GET", url+"/readyz", "", nil), 503)
	want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 200) // from memory
	time.Sleep(time.Second)
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "recovery without restarting kubegate", func() bool {
		return call(t, "GET", url+"/api/v1/cube/key", admin, nil).Code == 200 && call(t, "GET", url+"/readyz", "", nil).Code == 200
	})
	time.Sleep(500 * time.Millisecond) // writes resume
	stop.Store(true)
	wg.Wait()

	if n := verifyFailures.Load(); n != 0 {
		t.Fatalf("%d verifications of a known token failed during the outage", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if codes[503] == 0 || codes[500] != 0 || codes[-1] != 0 || len(acknowledged) == 0 {
		t.Fatalf("writes answered %v: want 201s and 503s, no 500", codes)
	}
	for _, name := range acknowledged {
		want(t, call(t, "GET", url+"/api/v1/cube/users/"+name, admin, nil), 200)
	}
	// A change made after the outage reaches the in-memory view (it resynced).
	want(t, call(t, "PATCH", url+"/api/v1/cube/key?accessKey="+ak, admin, map[string]string{"status": "Inactive"}), 200)
	want(t, call(t, "GET", url+"/api/v1/cube/whoami", minted, nil), 401)
	if t.Failed() {
		t.Log(pg.Log(), p.Output())
	}
}

// kubegate killed (SIGKILL) under write load, on SQLite and on PostgreSQL, then
// restarted on the same data: every user and key whose creation was acknowledged
// is there and works; nothing is half-written.
func TestKillUnderWriteLoad(t *testing.T) {
	stores := map[string]func(t *testing.T) []string{
		"sqlite": func(t *testing.T) []string { return []string{"--data-dir", t.TempDir()} },
		"postgres": func(t *testing.T) []string {
			pg, err := pgtest.Start()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pg.Close)
			return []string{"--store=postgres", "--postgres-dsn=" + pg.DSN, "--encryption-key-file=" + pgtest.SharedKeyFile(t), "--data-dir", t.TempDir()}
		},
	}
	for name, args := range stores {
		t.Run(name, func(t *testing.T) {
			args := args(t)
			p, url := gateway(t, args...)
			admin := login(t, url, "admin", adminPassword)
			type key struct{ ak, sk string }
			var mu sync.Mutex
			var users []string
			var keys []key
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						name := fmt.Sprintf("w%d-%d", w, i)
						r, err := testhttp.Try(http.DefaultClient, "POST", url+"/api/v1/cube/users", admin, map[string]any{"name": name, "password": "password-" + name})
						if err != nil || r.Code != 201 {
							return // the process died
						}
						mu.Lock()
						users = append(users, name)
						mu.Unlock()
						k, err := testhttp.Try(http.DefaultClient, "POST", url+"/api/v1/cube/key/create?user="+name, admin, nil)
						if err != nil || k.Code != 200 {
							return
						}
						var m map[string]any
						if json.Unmarshal(k.Body, &m) != nil {
							return
						}
						mu.Lock()
						keys = append(keys, key{m["accessKey"].(string), m["secretKey"].(string)})
						mu.Unlock()
					}
				}()
			}
			time.Sleep(1500 * time.Millisecond)
			if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			p.Kill()

			_, url = gateway(t, args...)
			admin = login(t, url, "admin", adminPassword)
			mu.Lock()
			defer mu.Unlock()
			if len(users) == 0 || len(keys) == 0 {
				t.Fatalf("no writes were acknowledged before the kill (%d users, %d keys)", len(users), len(keys))
			}
			for _, name := range users {
				login(t, url, name, "password-"+name) // whole: a working password hash
			}
			for _, k := range keys {
				want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+k.ak+"&secretKey="+k.sk, "", nil), 200)
			}
			t.Logf("%d users and %d keys acknowledged before SIGKILL, all intact", len(users), len(keys))
		})
	}
}

// Two replicas on one PostgreSQL: one is killed mid-traffic; the other keeps
// serving without an error, and a revocation made on a replica started afterwards
// still reaches it within a second.
func TestReplicaKilledMidTraffic(t *testing.T) {
	pg, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	args := []string{"--store=postgres", "--postgres-dsn=" + pg.DSN, "--encryption-key-file=" + pgtest.SharedKeyFile(t)}
	a, urlA := gateway(t, args...)
	_, urlB := gateway(t, args...)
	admin := login(t, urlB, "admin", adminPassword)
	ak, sk := createKey(t, urlB, admin)
	tok := want(t, call(t, "GET", urlB+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 200).JSON(t)["token"].(string)

	var stop atomic.Bool
	var failures, served atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			for _, path := range []string{"/api/v1/cube/whoami", "/api/v1/cube/key"} {
				if r, err := testhttp.Try(http.DefaultClient, "GET", urlB+path, tok, nil); err != nil || r.Code != 200 {
					failures.Add(1)
				}
				served.Add(1)
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := a.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	_, urlC := gateway(t, args...) // a replacement replica
	adminC := login(t, urlC, "admin", adminPassword)
	stop.Store(true)
	<-done
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d calls to the surviving replica failed", n, served.Load())
	}
	_ = urlA
	want(t, call(t, "PATCH", urlC+"/api/v1/cube/key?accessKey="+ak, adminC, map[string]string{"status": "Inactive"}), 200)
	eventually(t, time.Second, "the revocation reaching the surviving replica", func() bool {
		return call(t, "GET", urlB+"/api/v1/cube/whoami", tok, nil).Code == 401
	})
}
