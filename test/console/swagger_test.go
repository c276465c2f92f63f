package console

import (
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kubegate/kubegate/test/testhttp"
)

// Swagger UI, as a user meets it from the console's menu: Authorize with a
// bearer token, then Try it out on the token endpoint and on a proxy list — both
// 200 — and the token is not left in localStorage for any later script to read.
func TestSwaggerUIAuthorizeAndTryItOut(t *testing.T) {
	url, _ := gateway(t)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	testhttp.Want(t, testhttp.Call(t, client, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200)
	pair := testhttp.Want(t, testhttp.Call(t, client, "POST", url+"/api/v1/cube/key/create", "", map[string]string{"description": "swagger"},
		"X-CSRF-Token", csrf(jar, url)), 200).JSON(t)
	ak, sk := pair["accessKey"].(string), pair["secretKey"].(string)
	token := testhttp.Want(t, testhttp.Call(t, client, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 200).JSON(t)["token"].(string)

	// The page that holds a pasted token runs only its own scripts and is never framed.
	page := testhttp.Want(t, testhttp.Call(t, client, "GET", url+"/swagger/index.html", "", nil), 200)
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		page.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("Swagger UI headers: %v", page.Header)
	}

	ctx := browser(t)
	run(t, ctx, chromedp.Navigate(url+"/swagger/index.html"), chromedp.WaitVisible(chromedp.CSS(".swagger-ui .btn.authorize")))
	run(t, ctx, chromedp.Click(chromedp.CSS(".swagger-ui .btn.authorize")), chromedp.WaitVisible(chromedp.CSS(".modal-ux input")),
		chromedp.SendKeys(chromedp.CSS(".modal-ux input"), token),
		chromedp.Click(chromedp.CSS(".modal-ux .auth-btn-wrapper button.authorize")), chromedp.WaitVisible(chromedp.CSS(".modal-ux .auth-btn-wrapper button.btn-done")),
		chromedp.Click(chromedp.CSS(".modal-ux .auth-btn-wrapper button.btn-done")), chromedp.WaitNotPresent(chromedp.CSS(".modal-ux")))

	// tryOut expands the GET operation on path, fills its parameters, executes it
	// and returns the status Swagger UI shows.
	var op string // the operation tryOut last opened
	tryOut := func(path string, params map[string]string) string {
		t.Helper()
		id := value(t, ctx, chromedp.Evaluate[string](`(() => {
			const op = [...document.querySelectorAll(".opblock.opblock-get")].find(o => o.querySelector(".opblock-summary-path")?.dataset.path === `+strconv.Quote(path)+`);
			return op ? op.id : "";
		})()`))
		if id == "" {
			t.Fatalf("Swagger UI shows no GET %s", path)
		}
		op = "#" + id
		run(t, ctx, chromedp.ScrollIntoView(chromedp.CSS(op+" .opblock-summary-control")), chromedp.Click(chromedp.CSS(op+" .opblock-summary-control")),
			chromedp.WaitVisible(chromedp.CSS(op+" .try-out__btn")), chromedp.Click(chromedp.CSS(op+" .try-out__btn")),
			chromedp.WaitVisible(chromedp.CSS(op+" .execute")))
		for name, v := range params {
			// Typed, as a user would (Swagger UI's inputs are React's): select what an
			// example filled in, then type over it.
			input := op + ` tr[data-param-name="` + name + `"] input`
			ok := value(t, ctx, chromedp.Evaluate[bool](`(() => {
				const el = document.querySelector(`+strconv.Quote(input)+`);
				if (!el) return false;
				el.focus(); el.select();
				return true;
			})()`))
			if !ok {
				t.Fatalf("GET %s has no parameter %s", path, name)
			}
			run(t, ctx, chromedp.SendKeys(chromedp.CSS(input), v))
		}
		run(t, ctx, chromedp.Click(chromedp.CSS(op+" .execute")))
		status := op + " .live-responses-table tbody .response-col_status"
		for deadline := time.Now().Add(30 * time.Second); !value(t, ctx, chromedp.Evaluate[bool](`document.querySelector(`+strconv.Quote(status)+`) !== null`)); {
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: no response shown:\n%s", path, value(t, ctx, chromedp.Evaluate[string](`document.querySelector(`+strconv.Quote(op)+`).innerText`)))
			}
			run(t, ctx, chromedp.Sleep(100*time.Millisecond))
		}
		return text(t, ctx, status)
	}

	if got := tryOut("/api/v1/cube/key/token", map[string]string{"accessKey": ak, "secretKey": sk}); !strings.HasPrefix(got, "200") {
		t.Errorf("Try it out on the token endpoint: %q", got)
	}
	got := tryOut("/api/v1/cube/proxy/clusters/{cluster}/apis/{group}/{version}/namespaces/{namespace}/{resource}", map[string]string{
		"cluster": cluster.Name, "group": "apps", "version": "v1", "namespace": "default", "resource": "deployments", "pageSize": "5", "sortName": "metadata.name",
	})
	if !strings.HasPrefix(got, "200") {
		t.Errorf("Try it out on a proxy list: %q", got)
	}
	// The proxy list's answer, in view.
	run(t, ctx, chromedp.ScrollIntoView(chromedp.CSS(op+" .live-responses-table")))
	value(t, ctx, chromedp.Evaluate[bool](`(() => { window.scrollBy(0, -160); return true; })()`))
	viewScreenshot(t, ctx, "swagger-en")

	stored := value(t, ctx, chromedp.Evaluate[string](`JSON.stringify(Object.assign({}, localStorage)) + JSON.stringify(Object.assign({}, sessionStorage))`))
	if strings.Contains(stored, token) {
		t.Errorf("Swagger UI stored the token: %s", stored)
	}
	// And the proxy was called with the bearer token, not a cookie: the audit log
	// has the list under the key.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := testhttp.Want(t, testhttp.Call(t, client, "GET", url+"/api/v1/cube/audit?accessKey="+ak+"&cluster="+cluster.Name, "", nil), 200)
		if strings.Contains(string(r.Body), "/namespaces/default/deployments") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Swagger list is not in the key's audit log: %s", r.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
