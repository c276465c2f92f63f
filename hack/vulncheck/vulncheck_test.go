// Package vulncheck_test proves that `make lint` fails on a vulnerability the code
// can reach: hack/vulncheck.sh runs against a database (testdata/vulndb) in which a
// function kubegate calls to verify tokens is marked vulnerable.
package vulncheck_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestReachableVulnerabilityFailsTheCheck(t *testing.T) {
	db, err := filepath.Abs("testdata/vulndb")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "../vulncheck.sh")
	cmd.Env = append(cmd.Environ(), "GOVULNDB=file://"+db, "KUBEGATE_REQUIRE_VULNCHECK=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the check passed with a reachable vulnerability:\n%s", out)
	}
	for _, want := range []string{"GO-2099-0001", "token.Service.verify calls jwt.Parser.ParseWithClaims"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}
