// Package kubeenvtest starts one real cluster for a test binary (TestMain). It is
// apart from kubeenv so that the production binary, which uses kubeenv for the
// demo, never links package testing.
package kubeenvtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kubegate/kubegate/kubeenv"
)

// Main is a TestMain helper: it starts one cluster shared by every test of the
// package, hands it to use, runs the tests, stops the cluster and exits. A cluster
// that cannot start fails the package: tests against real Kubernetes never skip
// silently (`make test` builds the binaries first).
//
//	var cluster *kubeenv.Cluster
//	func TestMain(m *testing.M) { kubeenvtest.Main(m, "mypkg", func(c *kubeenv.Cluster) { cluster = c }) }
func Main(m *testing.M, name string, use func(*kubeenv.Cluster)) {
	os.Exit(runMain(m, name, use))
}

func runMain(m *testing.M, name string, use func(*kubeenv.Cluster)) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := kubeenv.Start(ctx, kubeenv.Options{Name: name})
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubeenv: cannot start the shared test cluster: %v\n", err)
		return 1
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "kubeenv: stopping the shared test cluster: %v\n", err)
		}
	}()
	use(c)
	return m.Run()
}
