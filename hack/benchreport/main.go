// Command benchreport turns `go test -bench` output into docs/benchmarks.md: the
// machine, the method, the median of each benchmark, and each variant's ratio to the
// "baseline" variant of the same benchmark, measured in the same run.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

type sample struct {
	nsPerOp, bytesPerOp, allocsPerOp float64
	// extra holds custom metrics such as req/s, by unit.
	extra map[string]float64
}

func main() {
	count := flag.Int("count", 5, "runs per benchmark, for the method section")
	keep := flag.String("keep", "", "an earlier report: its sections of packages this run did not measure are kept, marked with their date")
	flag.Parse()
	var earlier string
	if *keep != "" {
		b, err := os.ReadFile(*keep)
		if err != nil && !os.IsNotExist(err) {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
		earlier = string(b)
	}
	if err := report(os.Stdin, os.Stdout, *count, earlier); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func report(in io.Reader, out io.Writer, count int, earlier string) error {
	results := map[string]map[string][]sample{} // package → benchmark → samples
	var order []string
	pkg, cpu := "", ""
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			continue
		}
		if c, ok := strings.CutPrefix(line, "cpu: "); ok {
			cpu = strings.TrimSpace(c)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // drop -GOMAXPROCS
		}
		s := sample{extra: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				s.nsPerOp = v
			case "B/op":
				s.bytesPerOp = v
			case "allocs/op":
				s.allocsPerOp = v
			default:
				s.extra[f[i+1]] = v
			}
		}
		if results[pkg] == nil {
			results[pkg] = map[string][]sample{}
			order = append(order, pkg)
		}
		results[pkg][name] = append(results[pkg][name], s)
	}
	if err := sc.Err(); err != nil {
		return err
	}

	goVersion, _ := exec.Command("go", "version").Output() //nolint:noctx // a one-shot tool.
	fmt.Fprintf(out, "# Benchmarks\n\nWritten by `make bench` on %s.\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(out, "- Machine: %s, %d cores, %s/%s\n- Go: %s\n", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, strings.TrimSpace(string(goVersion)))
	fmt.Fprintf(out, "- Method: `go test -bench . -benchmem -count %d`; each figure is the median of the runs. "+
		"Ratios compare a variant with the `baseline` variant of the same benchmark, measured in the same run "+
		"(these machines are noisy: compare within one run, not across runs).\n\n", count)

	fmt.Fprint(out, `## What each benchmark compares

- **TokenExchangeHTTP**: KubeCube-style token exchanges over loopback HTTP with 8 parallel
  clients; the baseline is GET /healthz through the same server and client.
- **ListQuery**: the guide's worked example plus a filter over a list of 10k or 100k
  Deployments: the streaming path (decode item by item — only its metadata when the query
  reads no more — keeping only the page's candidates)
  against decoding the whole list, then filtering, sorting and paging it (KubeCube's
  method). peak-MiB is the peak heap above the start, with the GC at 5 % growth so that it
  tracks live memory.
- **Query** (listcache): the same worked-example shape (a fuzzy name filter, newest first,
  a page of 20) answered from the list cache's memory, over the whole collection and in one
  namespace of 100, against the baseline of decoding every object (KubeCube's method without
  the fetch). In-process: the one-item list each cached answer also makes to the cluster
  (about 1–2 ms) is not included. mem/json is the cache's accounted memory over the
  objects' JSON size.
- **Scale** (test/scale): a real test-bed cluster (kube-apiserver and etcd on /dev/shm)
  holding 30k or 100k Deployments (about 3 KB of JSON each) across 100 namespaces, seeded
  once and reused from a saved etcd data directory. Each query shape is answered by the
  gateway's list cache and by KubeCube's method (the baseline: fetch the whole scope from
  the apiserver, decode it, filter, sort, page), each under three loads measured in the
  same run: **quiet**, and a background writer patching a Lease at **10wps** and **100wps**
  (writes a second: another resource, whose writes move the cluster's resource version
  without an event on the Deployments, as node heartbeats and leader elections do;
  writes/s is the rate reached). On the quiet cluster also by the gateway without the
  cache (streaming upstream), from the cache at any version (resourceVersion=0: the cache's
  own cost) and by the apiserver's own label-selector page of the same scope (a reference,
  not the same query). **worked-example** is the guide's request (one namespace's
  Deployments, newest first, page 2 of 20); **fuzzy-name** is the same shape over the whole
  cluster with a name filter. Latencies are over HTTPS (HTTP/2) on loopback, including the
  gateway's authentication and its RBAC check; from-cache-% is the share answered from the
  cache. **staleness** is what a user could see: a Deployment created straight on the
  cluster, then listed through the gateway with a name filter until it shows; the time
  from the create's answer to the first list that holds it. **50-clients** runs the worked
  example with 50 concurrent clients, quiet and at 100wps, against the apiserver's
  selector page. **warm-up** is the time to fill a cache against one full paged LIST (500 a
  page) of the collection, and heap/json the heap the cache takes (Go's live heap after a
  GC) over the objects' JSON size.
- **HandlerChain**: what the filter chain (request ID, access log, recovery, metrics) adds
  to a trivial handler.
- **PassThrough**: GET of one ConfigMap from a real apiserver over TLS. **apiserver**:
  straight (baseline), and straight with the gateway's identity and impersonation headers
  (the apiserver's own cost of impersonation). **8-clients** and **1-client**: through the
  floor (baseline: a bare httputil.ReverseProxy with TLS on both legs and the same
  impersonation headers, hack/floorproxy) and through the gateway (bearer token,
  authentication, scopes, impersonation, limits, access log, metrics, audit).
  proxy-cpu-µs/req is the proxy process's own CPU per request (from /proc), p50-µs the
  median latency; the gateway's added latency is its p50 less the floor's. Client,
  proxies, apiserver and etcd share the machine's 2 cores.
- **Verify**: token verification in-process, for a token seen before (cached) and unseen
  ones (an ES256 signature check each), and issuing.

`)
	for _, p := range order {
		fmt.Fprintf(out, "## %s\n\n| benchmark | time/op | B/op | allocs/op | other | vs baseline |\n|---|---:|---:|---:|---:|---:|\n", p)
		names := make([]string, 0, len(results[p]))
		for n := range results[p] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			m := median(results[p][n])
			ratio := ""
			if i := strings.LastIndexByte(n, '/'); i > 0 && !strings.HasSuffix(n, "/baseline") {
				if base, ok := results[p][n[:i]+"/baseline"]; ok {
					b := median(base)
					switch r := m.nsPerOp / b.nsPerOp; {
					case b.nsPerOp <= 0:
					case r < 0.1: // "0.00×" would hide how much faster
						ratio = fmt.Sprintf("%.2f× time (%.0f× faster)", r, 1/r)
					default:
						ratio = fmt.Sprintf("%.2f× time", r)
					}
				}
			}
			var other []string
			for unit, v := range m.extra {
				other = append(other, formatMetric(v)+" "+unit)
			}
			sort.Strings(other)
			fmt.Fprintf(out, "| %s | %s | %.0f | %.0f | %s | %s |\n", n, formatNs(m.nsPerOp), m.bytesPerOp, m.allocsPerOp, strings.Join(other, ", "), ratio)
		}
		fmt.Fprintln(out)
	}
	for _, sec := range keptSections(earlier, results) {
		fmt.Fprint(out, sec)
	}
	return nil
}

// keptSections are the package sections of an earlier report for packages this
// run did not measure (a run of some benchmarks only), each marked with the date
// of the run that measured it: its ratios were measured within that run.
func keptSections(earlier string, measured map[string]map[string][]sample) []string {
	date := "an earlier run"
	if _, rest, ok := strings.Cut(earlier, "Written by `make bench` on "); ok {
		if d, _, ok := strings.Cut(rest, "."); ok {
			date = d
		}
	}
	var out []string
	for _, part := range strings.Split(earlier, "\n## ")[1:] {
		head, body, _ := strings.Cut(part, "\n")
		pkg, when, keptBefore := strings.Cut(head, " (measured ")
		if !strings.HasPrefix(pkg, "github.com/") {
			continue // the load and targets sections are bench.sh's to keep
		}
		if _, ok := measured[pkg]; ok {
			continue
		}
		d := date
		if keptBefore {
			d = strings.TrimSuffix(when, ")")
		}
		if i := strings.Index(body, "\n<!--"); i >= 0 {
			body = body[:i] // a hand-kept section follows
		}
		out = append(out, fmt.Sprintf("## %s (measured %s)\n\n%s\n\n", pkg, d, strings.Trim(body, "\n")))
	}
	return out
}
func median(s []sample) sample {
	pick := func(get func(sample) float64) float64 {
		v := make([]float64, len(s))
		for i := range s {
			v[i] = get(s[i])
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	m := sample{
		nsPerOp:     pick(func(x sample) float64 { return x.nsPerOp }),
		bytesPerOp:  pick(func(x sample) float64 { return x.bytesPerOp }),
		allocsPerOp: pick(func(x sample) float64 { return x.allocsPerOp }),
		extra:       map[string]float64{},
	}
	for unit := range s[0].extra {
		m.extra[unit] = pick(func(x sample) float64 { return x.extra[unit] })
	}
	return m
}

func formatNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}

// formatMetric shows a custom metric: whole numbers and large ones without
// decimals (692 peak-MiB, 24679 req/s), small fractional ones with three
// significant digits (1.79 mem/json).
func formatMetric(v float64) string {
	if v >= 100 || v == float64(int64(v)) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
