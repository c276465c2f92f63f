// Command load runs `make load`: two real test-bed clusters and the built gateway,
// then N concurrent clients for a while, mixing token exchanges, pass-through gets,
// filtered lists (from the list cache) and watches, while a background writer
// patches a Lease in each cluster (another resource: it moves the cluster's
// resource version, as node heartbeats do). It reports throughput, latency,
// errors, the share of lists the cache answered, and the gateway's live heap,
// goroutines and open files before and after, into the load section of
// docs/benchmarks.md, and fails on any error or on growth past 20 %.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/test/writeload"
)

const password = "load-admin-password"

func main() {
	clients := flag.Int("clients", 200, "concurrent clients")
	duration := flag.Duration("duration", 60*time.Second, "how long the load runs")
	report := flag.String("report", "docs/benchmarks.md", "the file whose load section is rewritten")
	writes := flag.String("writes", "10,100", "background writes a second to a Lease in each cluster, one run of -duration per rate (0: none)")
	flag.Parse()
	var rates []int
	for _, r := range strings.Split(*writes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n < 0 || n > 1000 {
			fmt.Fprintf(os.Stderr, "load: -writes: %q is not a rate from 0 to 1000\n", r)
			os.Exit(2)
		}
		rates = append(rates, n)
	}
	if err := run(*clients, *duration, rates, *report); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type gateway struct {
	url    string
	client *http.Client
	admin  string
}

func run(clients int, duration time.Duration, rates []int, report string) error {
	ctx, cancel := context.WithTimeout(context.Background(), duration+10*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "kubegate-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "kubegate")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/kubegate") //nolint:gosec // our own package into our temporary directory.
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building kubegate: %w", err)
	}

	fmt.Fprintln(os.Stderr, "load: starting two clusters")
	cls, err := kubeenv.StartN(ctx, 2, "load", kubeenv.Options{})
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range cls {
			_ = c.Stop()
		}
	}()
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--log-format", "json", "--max-keys-per-user", "100", "--list-cache",
		// Every client is the one admin: the per-user bound on watches would refuse them.
		"--max-watches-per-user", strconv.Itoa(max(100, clients*2))}
	for _, c := range cls {
		if err := seed(ctx, c); err != nil {
			return err
		}
		path, err := demo.PrepareCluster(ctx, c, dir)
		if err != nil {
			return err
		}
		args = append(args, "--cluster", c.Name+"="+path)
		if err := grantCacheReader(ctx, c); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, bin, args...) //nolint:gosec // the binary just built.
	cmd.Env = append(os.Environ(), "KUBEGATE_BOOTSTRAP_ADMIN_PASSWORD="+password)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url, err := servingURL(stderr)
	if err != nil {
		return err
	}
	gw := &gateway{url: url, client: &http.Client{Transport: &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2}, Timeout: 30 * time.Second}}
	var login struct{ Token string }
	if err := gw.json("POST", "/api/v1/cube/login", "", `{"name":"admin","password":"`+password+`"}`, &login); err != nil {
		return err
	}
	gw.admin = login.Token
	type pair struct{ ak, sk string }
	var keys []pair
	for range 20 {
		var k struct{ AccessKey, SecretKey string }
		if err := gw.json("POST", "/api/v1/cube/key/create", gw.admin, "", &k); err != nil {
			return err
		}
		keys = append(keys, pair{k.AccessKey, k.SecretKey})
	}

	// One request of each kind, chosen at random in these proportions.
	kinds := []struct {
		name   string
		weight int
		do     func(r *rand.Rand) error
	}{
		{"token exchange", 20, func(r *rand.Rand) error {
			k := keys[r.IntN(len(keys))]
			return gw.expect("GET", "/api/v1/cube/key/token?accessKey="+k.ak+"&secretKey="+k.sk, "")
		}},
		{"pass-through get", 40, func(r *rand.Rand) error {
			return gw.expect("GET", fmt.Sprintf("/api/v1/cube/proxy/clusters/%s/api/v1/namespaces/load/configmaps/cm-%d", cls[r.IntN(2)].Name, r.IntN(300)), gw.admin)
		}},
		{"filtered list", 30, func(r *rand.Rand) error {
			return gw.expect("GET", fmt.Sprintf("/api/v1/cube/proxy/clusters/%s/api/v1/namespaces/load/configmaps?selector=metadata.labels.team=team-%d&sortName=metadata.name&sortOrder=desc&pageSize=20&pageNum=%d",
				cls[r.IntN(2)].Name, r.IntN(5), 1+r.IntN(3)), gw.admin)
		}},
		{"watch (2 s)", 10, func(r *rand.Rand) error {
			return gw.expect("GET", fmt.Sprintf("/api/v1/cube/proxy/clusters/%s/api/v1/namespaces/load/configmaps?watch=true&timeoutSeconds=2&selector=metadata.labels.team=team-%d",
				cls[r.IntN(2)].Name, r.IntN(5)), gw.admin)
		}},
	}
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	drive := func(d time.Duration, record bool) map[string]*stats {
		out := map[string]*stats{}
		for _, k := range kinds {
			out[k.name] = &stats{}
		}
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))) //nolint:gosec // load mix, not secrets.
				for time.Now().Before(end) {
					n := r.IntN(total)
					k := kinds[0]
					for _, c := range kinds {
						if n < c.weight {
							k = c
							break
						}
						n -= c.weight
					}
					start := time.Now()
					err := k.do(r)
					if record {
						out[k.name].add(time.Since(start), err)
					}
				}
			}()
		}
		wg.Wait()
		gw.client.CloseIdleConnections()
		return out
	}

	fmt.Fprintf(os.Stderr, "load: warming up with %d clients\n", clients)
	drive(10*time.Second, false)
	before, err := gw.resources(ctx)
	if err != nil {
		return err
	}
	var phases []phase
	for _, rate := range rates {
		fmt.Fprintf(os.Stderr, "load: %d clients for %s, %d background writes a second per cluster\n", clients, duration, rate)
		p, err := measurePhase(ctx, gw, cls, rate, func() map[string]*stats { return drive(duration, true) })
		if err != nil {
			return err
		}
		phases = append(phases, p)
	}
	after, err := gw.resources(ctx)
	if err != nil {
		return err
	}
	section, failed := render(clients, duration, phases, before, after)
	fmt.Print(section)
	if err := writeSection(report, section); err != nil {
		return err
	}
	if failed != "" {
		return errors.New(failed)
	}
	return nil
}

func kinds2names(m map[string]*stats) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// seed creates 300 ConfigMaps in namespace load, in five teams.
func seed(ctx context.Context, c *kubeenv.Cluster) error {
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "load"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for i := range 300 {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Labels: map[string]string{"team": fmt.Sprintf("team-%d", i%5)}},
			Data:       map[string]string{"config": strings.Repeat("x", 200+i%500)},
		}
		if _, err := cs.CoreV1().ConfigMaps("load").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func servingURL(r io.Reader) (string, error) {
	re := regexp.MustCompile(`"msg":"serving".*"url":"([^"]+)"`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case u := <-found:
		return u, nil
	case <-time.After(time.Minute):
		return "", errors.New("the gateway did not start within a minute")
	}
}

func (g *gateway) do(method, path, token, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, g.url+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return g.client.Do(req)
}

// expect makes a request and reads the whole answer; anything but a 200 is an error.
func (g *gateway) expect(method, path, token string) error {
	resp, err := g.do(method, path, token, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d", method, path, resp.StatusCode)
	}
	return nil
}

func (g *gateway) json(method, path, token, body string, v any) error {
	resp, err := g.do(method, path, token, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

type resources struct {
	liveHeap, goroutines, openFiles float64
}

// resources reads the gateway's live heap (after a garbage collection that
// happened after the load: the GC's next goal is twice the live heap at GOGC=100),
// goroutines and open files, once idle connections are gone.
func (g *gateway) resources(ctx context.Context) (resources, error) {
	time.Sleep(2 * time.Second) // closed connections' goroutines exit
	m, err := g.metrics()
	if err != nil {
		return resources{}, err
	}
	gcs := m["go_gc_duration_seconds_count"]
	// Light requests until two collections have run since the load stopped.
	for m["go_gc_duration_seconds_count"] < gcs+2 {
		if ctx.Err() != nil {
			return resources{}, ctx.Err()
		}
		for range 200 {
			_ = g.expect("GET", "/api/v1/cube/whoami", g.admin)
		}
		if m, err = g.metrics(); err != nil {
			return resources{}, err
		}
	}
	g.client.CloseIdleConnections()
	time.Sleep(2 * time.Second)
	if m, err = g.metrics(); err != nil {
		return resources{}, err
	}
	return resources{liveHeap: m["go_memstats_next_gc_bytes"] / 2, goroutines: m["go_goroutines"], openFiles: m["process_open_fds"]}, nil
}

func (g *gateway) metrics() (map[string]float64, error) {
	resp, err := g.do("GET", "/metrics", "", "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

type stats struct {
	mu        sync.Mutex
	latencies []time.Duration
	errors    int
	firstErr  error
}

func (s *stats) add(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies = append(s.latencies, d)
	if err != nil {
		s.errors++
		if s.firstErr == nil {
			s.firstErr = err
		}
	}
}

func (s *stats) quantile(q float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	sort.Slice(s.latencies, func(i, j int) bool { return s.latencies[i] < s.latencies[j] })
	return s.latencies[int(q*float64(len(s.latencies)-1))]
}

// phase is one run of the clients at one background write rate.
type phase struct {
	rate    int // asked for, per cluster
	elapsed time.Duration
	results map[string]*stats
	writes  float64 // reached, a second, all clusters
	lists   float64 // filtered lists counted by the gateway
	cached  float64 // of which from the cache
	aged    float64 // the cache's answers' age: count and sum of the histogram
	ageSum  float64
}

// measurePhase runs the clients (drive) with the background writer at rate in
// every cluster, and reads what the gateway counted meanwhile.
func measurePhase(ctx context.Context, gw *gateway, cls []*kubeenv.Cluster, rate int, drive func() map[string]*stats) (phase, error) {
	var writers []*writeload.Writer
	defer func() {
		for _, w := range writers {
			w.Stop()
		}
	}()
	for _, c := range cls {
		cs, err := c.Clientset()
		if err != nil {
			return phase{}, err
		}
		// Up to 32 writes in flight: a slow answer does not lower the rate.
		w, err := writeload.Start(cs, "kube-system", "load-writer", rate, 32)
		if err != nil {
			return phase{}, err
		}
		writers = append(writers, w)
	}
	written := func() (n int64) {
		for _, w := range writers {
			n += w.Writes()
		}
		return n
	}
	m0, err := gw.metrics()
	if err != nil {
		return phase{}, err
	}
	start, before := time.Now(), written()
	p := phase{rate: rate, results: drive()}
	p.elapsed = time.Since(start)
	p.writes = float64(written()-before) / p.elapsed.Seconds()
	m1, err := gw.metrics()
	if err != nil {
		return phase{}, err
	}
	delta := func(series string) float64 { return m1[series] - m0[series] }
	p.cached = delta(`kubegate_list_queries_total{source="cache"}`)
	p.lists = p.cached + delta(`kubegate_list_queries_total{source="cluster"}`)
	p.aged, p.ageSum = delta("kubegate_list_cache_answer_age_seconds_count"), delta("kubegate_list_cache_answer_age_seconds_sum")
	return p, nil
}

func render(clients int, duration time.Duration, phases []phase, before, after resources) (string, string) {
	var b strings.Builder
	fmt.Fprintf(&b, "## Load (`make load`)\n\nWritten by `make load` on %s: two test-bed clusters (300 ConfigMaps each), the gateway on SQLite with `--list-cache`, "+
		"%d concurrent clients on loopback for %s after a 10 s warm-up at the same concurrency, once for each background write rate: a writer patches a Lease "+
		"in each cluster (another resource: its writes move the cluster's resource version, as node heartbeats do). All on the same 2 cores.\n\n",
		time.Now().UTC().Format("2006-01-02"), clients, duration)
	failed := ""
	for _, p := range phases {
		fmt.Fprintf(&b, "### %d writes a second per cluster\n\n%.0f writes a second were made in all; %.0f of %.0f filtered lists (%.1f %%) were answered from the cache, "+
			"whose watch had proved it caught up %.0f ms before the answer on average (`kubegate_list_cache_answer_age_seconds`).\n\n",
			p.rate, p.writes, p.cached, p.lists, 100*p.cached/max(p.lists, 1), 1000*p.ageSum/max(p.aged, 1))
		b.WriteString("| request | count | req/s | p50 | p99 | errors |\n|---|---:|---:|---:|---:|---:|\n")
		var errs, all int
		for _, n := range kinds2names(p.results) {
			s := p.results[n]
			errs += s.errors
			all += len(s.latencies)
			fmt.Fprintf(&b, "| %s | %d | %.0f | %s | %s | %d |\n", n, len(s.latencies), float64(len(s.latencies))/p.elapsed.Seconds(),
				s.quantile(0.5).Round(100*time.Microsecond), s.quantile(0.99).Round(100*time.Microsecond), s.errors)
			if s.firstErr != nil && failed == "" {
				failed = fmt.Sprintf("%d failed requests at %d writes a second; the first: %v", s.errors, p.rate, s.firstErr)
			}
		}
		fmt.Fprintf(&b, "| **all** | %d | %.0f | | | %d |\n\n", all, float64(all)/p.elapsed.Seconds(), errs)
	}
	b.WriteString("| gateway | before | after | change |\n|---|---:|---:|---:|\n")
	for _, r := range []struct {
		name          string
		before, after float64
		unit          string
		bounded       bool
	}{
		{"live heap", before.liveHeap / (1 << 20), after.liveHeap / (1 << 20), " MiB", true},
		{"goroutines", before.goroutines, after.goroutines, "", true},
		{"open files", before.openFiles, after.openFiles, "", false},
	} {
		change := (r.after - r.before) / r.before * 100
		fmt.Fprintf(&b, "| %s | %.1f%s | %.1f%s | %+.0f %% |\n", r.name, r.before, r.unit, r.after, r.unit, change)
		if r.bounded && change > 20 && failed == "" {
			failed = fmt.Sprintf("%s grew by %.0f %% (limit 20 %%)", r.name, change)
		}
	}
	verdict := "0 failed requests; live heap and goroutines after the load within 20 % of before."
	if failed != "" {
		verdict = "FAILED: " + failed
	}
	fmt.Fprintf(&b, "\n%s\n", verdict)
	return b.String(), failed
}

// grantCacheReader lets the gateway cache the ConfigMaps of c: list and watch,
// what its cache needs.
func grantCacheReader(ctx context.Context, c *kubeenv.Cluster) error {
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "kubegate-cache-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list", "watch"}}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kubegate-cache-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubegate-cache-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: demo.GatewayUser}},
	}, metav1.CreateOptions{})
	return err
}

const begin, end = "<!-- load:begin -->", "<!-- load:end -->"

// writeSection replaces the load section of the report (appending it the first
// time); make bench keeps it when it rewrites the rest.
func writeSection(path, section string) error {
	old, err := os.ReadFile(path) //nolint:gosec // the report file the operator names.
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	block := begin + "\n" + section + end + "\n"
	s := string(old)
	if i, j := strings.Index(s, begin), strings.Index(s, end); i >= 0 && j > i {
		s = s[:i] + block + s[j+len(end)+1:]
	} else {
		s = strings.TrimRight(s, "\n") + "\n\n" + block
	}
	return os.WriteFile(path, []byte(s), 0o644) //nolint:gosec // a document of the repository.
}
