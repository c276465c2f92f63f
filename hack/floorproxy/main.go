// Command floorproxy is the pass-through benchmark's floor: a bare
// httputil.ReverseProxy with TLS on both legs that adds the same impersonation
// headers as the gateway for one fixed user, and nothing else — no
// authentication, routing, limits, logs, metrics or audit. What kubegate costs
// beyond it is kubegate's own (make bench, docs/benchmarks.md).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the gateway's kubeconfig for the cluster")
	cert := flag.String("tls-cert-file", "", "serving certificate (PEM)")
	key := flag.String("tls-key-file", "", "serving key (PEM)")
	user := flag.String("user", "admin", "the user to impersonate")
	groups := flag.String("groups", "kubegate:users,kubegate:admins", "the groups to impersonate, comma-separated")
	flag.Parse()
	if err := run(*kubeconfig, *cert, *key, *user, strings.Split(*groups, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "floorproxy:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, certFile, keyFile, user string, groups []string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return err
	}
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Header.Del("Authorization")
			r.Out.Header.Set("Impersonate-User", user)
			r.Out.Header["Impersonate-Group"] = groups
		},
		Transport:     rt,
		FlushInterval: -1,
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}}
	fmt.Printf("serving https://%s\n", ln.Addr())
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
