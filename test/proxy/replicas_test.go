package proxy

import (
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/kubeproxy"
	"github.com/kubegate/kubegate/test/pgtest"
)

// watchDelay is how late the slow cluster delivers watch events: far longer
// than a client takes to go from a write's answer to its next list.
const watchDelay = 400 * time.Millisecond

// slowWatches fronts a cluster as the gateway: every request is passed on at
// once with the gateway's credentials, but what a watch streams reaches the
// gateway watchDelay late — a busy cluster or a long network path. A write's
// answer then arrives well before its watch event, so a replica's cache is
// behind the write when the client's next list comes. It returns the
// kubeconfig that reaches the cluster through it.
func slowWatches(t *testing.T, c *kubeenv.Cluster) string {
	t.Helper()
	cfg, err := c.UserConfig(demo.GatewayUser)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(c.URL)
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Header.Del("Authorization") },
		Transport:     rt,
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.URL.Query().Get("watch") == "true" || resp.Request.URL.Query().Get("watch") == "1" {
				resp.Body = delayed(resp.Body, watchDelay)
			}
			return nil
		},
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(shared.bin, "tls.crt"), filepath.Join(shared.bin, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(rp)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca, err := os.ReadFile(shared.caFile)
	if err != nil {
		t.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["slow"] = &clientcmdapi.Cluster{Server: srv.URL, CertificateAuthorityData: ca}
	kc.AuthInfos["gateway"] = &clientcmdapi.AuthInfo{Token: "the-proxy-authenticates-for-us"}
	kc.Contexts["slow"] = &clientcmdapi.Context{Cluster: "slow", AuthInfo: "gateway"}
	kc.CurrentContext = "slow"
	path := filepath.Join(t.TempDir(), "slow-kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// delayed returns body with each chunk held back until d after it arrived.
func delayed(body io.ReadCloser, d time.Duration) io.ReadCloser {
	pr, pw := io.Pipe()
	type chunk struct {
		at   time.Time
		data []byte
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := body.Read(buf)
			if n > 0 {
				chunks <- chunk{time.Now(), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		for c := range chunks {
			time.Sleep(time.Until(c.at.Add(d)))
			if _, err := pw.Write(c.data); err != nil {
				break
			}
		}
		_ = pw.Close()
		for range chunks { //nolint:revive // drain so the reader goroutine ends
		}
	}()
	return struct {
		io.Reader
		io.Closer
	}{pr, closers{pr, body}}
}

type closers []io.Closer

func (cs closers) Close() error {
	for _, c := range cs {
		_ = c.Close()
	}
	return nil
}

// Read-your-writes across replicas: two gateways on the real PostgreSQL, their
// caches fed by watches that run 400 ms late, under 100 writes a second to
// another resource. Creates, updates and deletes of ConfigMaps and
// ServiceAccounts go through either replica at random, each followed at once by
// a filtered list through the other: the list always reflects the write, and
// comes from the cache (the replica waited for the write the other carried).
func TestReadYourWritesAcrossReplicas(t *testing.T) {
	grantCacheReader(t)
	cl := shared.clusters[0]
	cs, err := cl.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	writeLoad(t, cs, 100)
	dsn, keyFile := pgtest.Schema(t, "kgproxy"), pgtest.SharedKeyFile(t)
	kubeconfig := slowWatches(t, cl)
	var urls [2]string
	for i := range urls {
		_, urls[i] = tlsGateway(t, "--store=postgres", "--postgres-dsn="+dsn, "--encryption-key-file="+keyFile,
			"--list-cache", "--cache-wait", "2s", "--cluster", "slow="+kubeconfig)
	}
	admin := want(t, call(t, "POST", urls[0]+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).JSON(t)["token"].(string)
	ns := "replicas"
	base := func(u, resource string) string {
		return u + "/api/v1/cube/proxy/clusters/slow/api/v1/namespaces/" + ns + "/" + resource
	}
	want(t, call(t, "POST", urls[0]+"/api/v1/cube/proxy/clusters/slow/api/v1/namespaces", admin, map[string]any{"metadata": map[string]string{"name": ns}}), 201)
	resources := []string{"configmaps", "serviceaccounts"}
	for _, u := range urls {
		for _, res := range resources { // start both collections on both replicas
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				r := want(t, call(t, "GET", base(u, res)+"?pageSize=0", admin, nil), 200)
				if r.Header.Get(kubeproxy.ListSourceHeader) == "cache" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s on %s never came from the cache", res, u)
				}
			}
		}
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 0))
	type object struct{ res, name, value string }
	var live []object // what the cluster holds
	fromCache := 0
	const ops = 60
	for i := range ops {
		via, other := urls[i%2], urls[1-i%2]
		if rnd.IntN(2) == 0 {
			via, other = other, via
		}
		var op string
		switch n := rnd.IntN(10); {
		case len(live) == 0 || n < 4:
			res := resources[rnd.IntN(2)]
			o := object{res, fmt.Sprintf("o-%02d", i), fmt.Sprint(rnd.Int())}
			want(t, call(t, "POST", base(via, res), admin, map[string]any{"metadata": map[string]any{"name": o.name, "labels": map[string]string{"value": o.value}}}), 201)
			live = append(live, o)
			op = "create " + o.res + "/" + o.name
		case n < 7:
			k := rnd.IntN(len(live))
			live[k].value = fmt.Sprint(rnd.Int())
			patch := fmt.Sprintf(`{"metadata":{"labels":{"value":%q}}}`, live[k].value)
			want(t, call(t, "PATCH", base(via, live[k].res)+"/"+live[k].name, admin, []byte(patch), "Content-Type", "application/merge-patch+json"), 200)
			op = "update " + live[k].res + "/" + live[k].name
		default:
			k := rnd.IntN(len(live))
			want(t, call(t, "DELETE", base(via, live[k].res)+"/"+live[k].name, admin, nil), 200)
			op = "delete " + live[k].res + "/" + live[k].name
			live = slices.Delete(live, k, k+1)
		}
		// A filtered list through the other replica, at once: the objects whose
		// name starts with o-, with their values.
		for _, res := range resources {
			r := want(t, call(t, "GET", base(other, res)+"?pageSize=0&sortName=metadata.name&selector=metadata.name~o-", admin, nil), 200)
			if r.Header.Get(kubeproxy.ListSourceHeader) == "cache" {
				fromCache++
			}
			var got, wantItems []string
			for _, it := range r.JSON(t)["items"].([]any) {
				md := it.(map[string]any)["metadata"].(map[string]any)
				labels, _ := md["labels"].(map[string]any)
				got = append(got, fmt.Sprint(md["name"], "=", labels["value"]))
			}
			for _, o := range live {
				if o.res == res {
					wantItems = append(wantItems, o.name+"="+o.value)
				}
			}
			slices.Sort(wantItems)
			if strings.Join(got, ",") != strings.Join(wantItems, ",") {
				t.Fatalf("op %d (%s through one replica): the other's list of %s (from %s) = %v, want %v",
					i, op, res, r.Header.Get(kubeproxy.ListSourceHeader), got, wantItems)
			}
		}
	}
	// The replicas did not pass the work to the cluster: the answers came from
	// the caches, which waited for the writes.
	if fromCache < 2*ops*9/10 {
		t.Errorf("%d of %d lists came from the cache", fromCache, 2*ops)
	}
}
