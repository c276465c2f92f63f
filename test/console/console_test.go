// Package console tests the web console in real headless Chromium, in front of a
// real cluster: the guide's first steps (log in, top-right menu, Access keys, Add
// key) and what a script then does with the key.
package console

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kubegate/kubegate/authn"
	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/kubeenv/kubeenvtest"
	"github.com/kubegate/kubegate/request"
	"github.com/kubegate/kubegate/test/testbin"
	"github.com/kubegate/kubegate/test/testhttp"
)

const adminPassword = "console-admin-password"

var cluster *kubeenv.Cluster

func TestMain(m *testing.M) {
	kubeenvtest.Main(m, "console", func(c *kubeenv.Cluster) { cluster = c })
}

// gateway builds and starts kubegate in front of the test cluster, over plain
// HTTP as the demo serves, and returns its URL and the kubeconfig it reaches the
// cluster with (inline credentials).
func gateway(t *testing.T, extra ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	bin, err := testbin.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kubeconfig, err := demo.PrepareCluster(ctx, cluster, dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := testbin.Start(bin, []string{"KUBEGATE_BOOTSTRAP_ADMIN_PASSWORD=" + adminPassword},
		append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--log-format", "json",
			"--max-keys-per-user", "2", "--cluster", cluster.Name + "=" + kubeconfig}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	url, err := p.WaitURL(time.Minute)
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Output())
	}
	return url, kubeconfig
}

// browser starts headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: `make test` installs it (hack/deps.sh)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 860), chromedp.Flag("lang", "en-US"))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func run(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// value runs one action that gives a value.
func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// screenshot saves the page to docs/screenshots when KUBEGATE_SCREENSHOTS is set
// (`make screenshots`), else to the test's temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	savePNG(t, ctx, name, chromedp.FullScreenshot(100))
}

// viewScreenshot saves what the window shows, for pages too long to show whole.
func viewScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	savePNG(t, ctx, name, chromedp.CaptureScreenshot())
}

func savePNG(t *testing.T, ctx context.Context, name string, shot chromedp.Action[[]byte]) {
	t.Helper()
	dir := t.TempDir()
	if os.Getenv("KUBEGATE_SCREENSHOTS") != "" {
		dir = filepath.Join("..", "..", "docs", "screenshots")
	}
	run(t, ctx, chromedp.Sleep(150*time.Millisecond))
	png := value(t, ctx, shot)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, for at most 30 s.
func waitFor(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		run(t, ctx, chromedp.Sleep(50*time.Millisecond))
	}
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	return value(t, ctx, chromedp.Location())
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(value(t, ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible)))
}

// The guide's walk: log in → the top-right menu → Access keys → Add key → read
// the pair from the dialog → tokens in both dialects → a list through the proxy →
// disable the key in the page → its token is refused within a second → delete it.
func TestGuideWalkInChromium(t *testing.T) {
	url, _ := gateway(t)
	ctx := browser(t)

	// Not logged in: to the login page, and back to the keys after.
	run(t, ctx, chromedp.Navigate(url+"/keys"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if loc := location(t, ctx); loc != url+"/login?next=%2Fkeys" {
		t.Fatalf("an anonymous visit to /keys went to %s", loc)
	}
	screenshot(t, ctx, "login-en")

	// The wrong password is said in place.
	run(t, ctx, chromedp.SendKeys(chromedp.CSS("#login-name"), "admin"), chromedp.SendKeys(chromedp.CSS("#login-password"), "wrong"),
		chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#login-error")))
	if msg := text(t, ctx, "#login-error"); !strings.Contains(strings.ToLower(msg), "password") {
		t.Errorf("wrong password message: %q", msg)
	}
	screenshot(t, ctx, "login-error-en")
	value(t, ctx, chromedp.Evaluate[string](`document.querySelector("#login-password").value = ""`))
	run(t, ctx, chromedp.SendKeys(chromedp.CSS("#login-password"), adminPassword),
		chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#add-key")))
	if loc := location(t, ctx); loc != url+"/keys" {
		t.Fatalf("after login: %s", loc)
	}

	// The top-right menu leads to Access keys.
	run(t, ctx, chromedp.Click(chromedp.CSS("#user-menu-button")), chromedp.WaitVisible(chromedp.CSS("#menu-keys")),
		chromedp.Click(chromedp.CSS("#menu-keys")), chromedp.WaitVisible(chromedp.CSS("#keys-empty")))
	screenshot(t, ctx, "keys-empty-en")

	// Add key: the dialog shows the pair once.
	run(t, ctx, chromedp.Click(chromedp.CSS("#add-key")), chromedp.WaitVisible(chromedp.CSS("#new-key-description")),
		chromedp.SendKeys(chromedp.CSS("#new-key-description"), "ci script"),
		chromedp.Click(chromedp.CSS("#new-key-create")), chromedp.WaitVisible(chromedp.CSS("#created-sk")))
	ak, sk := text(t, ctx, "#created-ak"), text(t, ctx, "#created-sk")
	if len(ak) != 32 || len(sk) != 40 {
		t.Fatalf("the dialog shows access key %q and secret key %q", ak, sk)
	}
	if w := text(t, ctx, "#created-dialog .warning"); !strings.Contains(w, "not see it again") {
		t.Errorf("no warning that the secret is shown once: %q", w)
	}
	screenshot(t, ctx, "key-created-en")

	// A script exchanges the pair in both dialects and lists through the proxy.
	client := &http.Client{Timeout: 10 * time.Second}
	cube := testhttp.Want(t, testhttp.Call(t, client, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 200).JSON(t)["token"].(string)
	dce := testhttp.Want(t, testhttp.Call(t, client, "POST", url+"/apis/ghippo.io/v1alpha1/token", "", map[string]string{"ak": ak, "sk": sk}), 200).JSON(t)["token"].(string)
	list := url + "/api/v1/cube/proxy/clusters/" + cluster.Name + "/apis/apps/v1/namespaces/default/deployments?pageSize=20&pageNum=1&sortName=metadata.creationTimestamp&sortOrder=desc"
	for _, tok := range []string{cube, dce} {
		testhttp.Want(t, testhttp.Call(t, client, "GET", list, tok, nil), 200)
	}

	// Closing the dialog shows the key in the table, with its last use.
	run(t, ctx, chromedp.Click(chromedp.CSS("#created-close")), chromedp.WaitVisible(chromedp.CSS(`tr[data-ak="`+ak+`"]`)))
	if got := text(t, ctx, `tr[data-ak="`+ak+`"]`); !strings.Contains(got, "ci script") || !strings.Contains(got, "Active") {
		t.Errorf("the key's row: %q", got)
	}

	// Disable it in the page: the token stops working within a second.
	run(t, ctx, chromedp.Click(chromedp.CSS(`tr[data-ak="`+ak+`"] button[data-status=Inactive]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-ak="`+ak+`"] button[data-status=Active]`)))
	disabled := time.Now()
	for {
		r := testhttp.Call(t, client, "GET", list, cube, nil)
		if r.Code == http.StatusUnauthorized {
			break
		}
		if time.Since(disabled) > time.Second {
			t.Fatalf("the token of a disabled key still answers %d a second later", r.Code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	screenshot(t, ctx, "keys-en")

	// The key's recent calls: the audit page, filtered to the key, shows the two
	// lists (written within a second or so: the audit log is flushed in batches).
	run(t, ctx, chromedp.Click(chromedp.CSS(`tr[data-ak="`+ak+`"] a[data-recent]`)), chromedp.WaitVisible(chromedp.CSS("#audit-filter")))
	if loc := location(t, ctx); loc != url+"/audit?accessKey="+ak {
		t.Fatalf("recent calls went to %s", loc)
	}
	rows := chromedp.Evaluate[int](`document.querySelectorAll("#audit-table tbody tr").length`)
	for deadline := time.Now().Add(10 * time.Second); value(t, ctx, rows) < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the key's calls never showed: %q", text(t, ctx, "main"))
		}
		run(t, ctx, chromedp.Sleep(300*time.Millisecond), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#audit-total")))
	}
	if got := text(t, ctx, "#audit-table tbody"); strings.Count(got, "/deployments") != 2 || strings.Count(got, "200") < 2 || !strings.Contains(got, "admin") {
		t.Errorf("the key's calls: %q", got)
	}
	screenshot(t, ctx, "audit-en")
	// Filtered to refusals, the key has none: the empty state says it is the filter.
	run(t, ctx, chromedp.SetValue(chromedp.CSS("#audit-status"), "4xx"), chromedp.Click(chromedp.CSS("#audit-apply")), chromedp.WaitVisible(chromedp.CSS("#audit-empty")))
	if loc := location(t, ctx); !strings.Contains(loc, "status=4xx") || !strings.Contains(loc, "accessKey="+ak) {
		t.Errorf("the filter form went to %s", loc)
	}
	run(t, ctx, chromedp.Click(chromedp.CSS("#audit-clear")), chromedp.WaitVisible(chromedp.CSS("#audit-table")))
	run(t, ctx, chromedp.Navigate(url+"/audit?since=yesterday"), chromedp.WaitVisible(chromedp.CSS("#page-error")))
	if got := text(t, ctx, "#page-error"); !strings.Contains(got, "since must be") {
		t.Errorf("a bad time filter: %q", got)
	}
	run(t, ctx, chromedp.Navigate(url+"/keys"), chromedp.WaitVisible(chromedp.CSS(`tr[data-ak="`+ak+`"]`)))

	// Delete it after confirming.
	run(t, ctx, chromedp.Click(chromedp.CSS(`tr[data-ak="`+ak+`"] button[data-action=delete]`)), chromedp.WaitVisible(chromedp.CSS("#confirm-ok")))
	if got := text(t, ctx, "#confirm-text"); !strings.Contains(got, ak) {
		t.Errorf("the confirmation does not name the key: %q", got)
	}
	run(t, ctx, chromedp.Click(chromedp.CSS("#confirm-ok")), chromedp.WaitVisible(chromedp.CSS("#keys-empty")))
	testhttp.Want(t, testhttp.Call(t, client, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 401)
}

func TestConsoleStatesAndSafety(t *testing.T) {
	url, kubeconfig := gateway(t)
	ctx := browser(t)
	run(t, ctx, chromedp.Navigate(url+"/login"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#login-name"), "admin"), chromedp.SendKeys(chromedp.CSS("#login-password"), adminPassword),
		chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#add-key")))

	t.Run("clusters: health and version, an admin registers one by pasting a kubeconfig and deletes it, anyone downloads a kubeconfig", func(t *testing.T) {
		raw, err := os.ReadFile(kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		// A script's list of Deployments asks for the cache.
		client := &http.Client{Timeout: 10 * time.Second}
		token := testhttp.Want(t, testhttp.Call(t, client, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).JSON(t)["token"].(string)
		testhttp.Want(t, testhttp.Call(t, client, "GET", url+"/api/v1/cube/proxy/clusters/"+cluster.Name+"/apis/apps/v1/namespaces/default/deployments?pageSize=20&sortName=metadata.name", token, nil), 200)
		run(t, ctx, chromedp.Navigate(url+"/clusters"), chromedp.WaitVisible(chromedp.CSS(`tr[data-cluster="`+cluster.Name+`"]`)))
		run(t, ctx, chromedp.Click(chromedp.CSS("#add-cluster")), chromedp.WaitVisible(chromedp.CSS("#new-cluster-name")),
			chromedp.SendKeys(chromedp.CSS("#new-cluster-name"), "Bad Name"),
			chromedp.Click(chromedp.CSS("#new-cluster-register")), chromedp.WaitVisible(chromedp.CSS("#new-cluster-error")))
		value(t, ctx, chromedp.Evaluate[string](`document.querySelector("#new-cluster-name").value = "second"`))
		value(t, ctx, chromedp.Evaluate[string](`document.querySelector("#new-cluster-kubeconfig").value = `+strconv.Quote(string(raw))))
		run(t, ctx, chromedp.SendKeys(chromedp.CSS("#new-cluster-description"), "the same cluster again"),
			chromedp.Click(chromedp.CSS("#new-cluster-register")), chromedp.WaitVisible(chromedp.CSS(`tr[data-cluster="second"]`)))
		// Health checks run in the background: the page shows the first one on reload.
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(text(t, ctx, `tr[data-cluster="second"]`), "Ready") {
			if time.Now().After(deadline) {
				t.Fatalf("the registered cluster never showed Ready: %q", text(t, ctx, `tr[data-cluster="second"]`))
			}
			run(t, ctx, chromedp.Sleep(500*time.Millisecond), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`tr[data-cluster="second"]`)))
		}
		if row := text(t, ctx, `tr[data-cluster="second"]`); !strings.Contains(row, "v1.") {
			t.Errorf("no Kubernetes version in %q", row)
		}
		// The gateway may only impersonate in this cluster: the page says the cache
		// is off for Deployments, and why.
		if row := text(t, ctx, `tr[data-cluster="`+cluster.Name+`"]`); !strings.Contains(row, "Partly off") || !strings.Contains(row, "Off for deployments.apps: the gateway may not list and watch it") {
			t.Errorf("the list cache's state is not in %q", row)
		}
		screenshot(t, ctx, "clusters-en")
		status := value(t, ctx, chromedp.Evaluate[int](`fetch(document.querySelector('tr[data-cluster="second"] a[download]').href).then(r => r.status)`, chromedp.EvalAwaitPromise))
		if status != http.StatusOK {
			t.Errorf("kubeconfig download: %d", status)
		}
		run(t, ctx, chromedp.Click(chromedp.CSS(`tr[data-cluster="second"] button[data-action=delete-cluster]`)), chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
			chromedp.Click(chromedp.CSS("#confirm-ok")), chromedp.WaitNotPresent(chromedp.CSS(`tr[data-cluster="second"]`)))
	})

	t.Run("users: an admin creates, disables, enables, promotes, resets, finds and deletes a user; a non-admin sees no Users page", func(t *testing.T) {
		row := `tr[data-user="dana"]`
		run(t, ctx, chromedp.Navigate(url+"/users"), chromedp.WaitVisible(chromedp.CSS("#users-table")),
			chromedp.Click(chromedp.CSS("#add-user")), chromedp.WaitVisible(chromedp.CSS("#new-user-name")),
			chromedp.SendKeys(chromedp.CSS("#new-user-name"), "dana"), chromedp.SendKeys(chromedp.CSS("#new-user-password"), "dana-first-password"),
			chromedp.SendKeys(chromedp.CSS("#new-user-email"), "dana@example.com"),
			chromedp.Click(chromedp.CSS("#new-user-create")), chromedp.WaitVisible(chromedp.CSS(row)))
		// Each change reloads the page; the row's opposite button shows it took.
		for _, step := range []struct{ click, wait, then string }{
			{`[data-field=enabled][data-value=false]`, `[data-field=enabled][data-value=true]`, "Disabled"},
			{`[data-field=enabled][data-value=true]`, `[data-field=enabled][data-value=false]`, "Enabled"},
			{`[data-field=admin][data-value=true]`, `[data-field=admin][data-value=false]`, "Administrator"},
			{`[data-field=admin][data-value=false]`, `[data-field=admin][data-value=true]`, "User"},
		} {
			run(t, ctx, chromedp.Click(chromedp.CSS(row+" button"+step.click)), chromedp.WaitVisible(chromedp.CSS(row+" button"+step.wait)))
			if got := text(t, ctx, row); !strings.Contains(got, step.then) {
				t.Errorf("after %s the row reads %q, want %q", step.click, got, step.then)
			}
		}
		run(t, ctx, chromedp.Click(chromedp.CSS(row+" button[data-action=reset-password]")), chromedp.WaitVisible(chromedp.CSS("#reset-password")),
			chromedp.SendKeys(chromedp.CSS("#reset-password"), "dana-second-password"), chromedp.Click(chromedp.CSS("#reset-submit")),
			chromedp.WaitNotVisible(chromedp.CSS("#reset-dialog")))
		run(t, ctx, chromedp.SendKeys(chromedp.CSS("#users-search"), "DANA@"), chromedp.Submit(chromedp.CSS("#users-search")))
		waitFor(t, ctx, func() bool { return strings.Contains(location(t, ctx), "q=DANA%40") })
		run(t, ctx, chromedp.WaitVisible(chromedp.CSS(row)))
		if n := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#users-table tbody tr").length`)); n != 1 {
			t.Errorf("searching dana@ shows %d users", n)
		}
		screenshot(t, ctx, "users-en")

		// Dana, not an admin, logs in with the reset password: no Users link, a 403 on its URL.
		jar, _ := cookiejar.New(nil)
		dana := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		testhttp.Want(t, testhttp.Call(t, dana, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "dana", "password": "dana-second-password"}), 200)
		if keys := testhttp.Want(t, testhttp.Call(t, dana, "GET", url+"/keys", "", nil), 200); strings.Contains(string(keys.Body), `id="nav-users"`) {
			t.Error("a non-admin's page links to Users")
		}
		testhttp.Want(t, testhttp.Call(t, dana, "GET", url+"/users", "", nil), 403)
		testhttp.Want(t, testhttp.Call(t, dana, "GET", url+"/users?page=x", "", nil), 403)
		testhttp.Want(t, testhttp.Call(t, dana, "GET", url+"/settings", "", nil), 403)
		testhttp.Want(t, testhttp.Call(t, dana, "PUT", url+"/api/v1/cube/settings/credential-policy", "",
			map[string]any{"keyMaxLifetime": "0", "keyExpiryRequired": false, "tokenMaxLifetime": "24h"}, "X-CSRF-Token", csrf(jar, url)), 403)
		// Dana's audit log is Dana's: no user column, and asking for the admin's calls is refused.
		if own := testhttp.Want(t, testhttp.Call(t, dana, "GET", url+"/audit", "", nil), 200); strings.Contains(string(own.Body), `id="audit-user"`) {
			t.Error("a non-admin's audit page offers to filter by user")
		}
		if r := testhttp.Want(t, testhttp.Call(t, dana, "GET", url+"/audit?user=admin", "", nil), 403); !strings.Contains(string(r.Body), "only administrators") {
			t.Errorf("a non-admin asking for the admin's calls: %s", r.Body)
		}
		run(t, ctx, chromedp.Navigate(url+"/users?page=zero"), chromedp.WaitVisible(chromedp.CSS("body")))
		if body := text(t, ctx, "body"); !strings.Contains(body, `page must be a whole number`) {
			t.Errorf("a bad page number: %q", body)
		}

		run(t, ctx, chromedp.Navigate(url+"/users?q=dana"), chromedp.WaitVisible(chromedp.CSS(row)),
			chromedp.Click(chromedp.CSS(row+" button[data-action=delete-user]")), chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
			chromedp.Click(chromedp.CSS("#confirm-ok")), chromedp.WaitVisible(chromedp.CSS("#users-empty")))
		testhttp.Want(t, testhttp.Call(t, dana, "GET", url+"/keys", "", nil), 200) // the ended session is forgotten: the login page
	})

	t.Run("the user menu and the key dialog work with the keyboard alone", func(t *testing.T) {
		run(t, ctx, chromedp.Navigate(url+"/keys"), chromedp.WaitVisible(chromedp.CSS("#add-key")))
		run(t, ctx, chromedp.Focus(chromedp.CSS("#user-menu-button")), chromedp.KeyEvent(kb.Enter),
			chromedp.WaitVisible(chromedp.CSS("#menu-keys")))
		active := chromedp.Evaluate[string](`document.activeElement.id`)
		focused := value(t, ctx, active)
		if focused != "menu-keys" {
			t.Errorf("Enter on the menu button focuses %q, want the first item", focused)
		}
		run(t, ctx, chromedp.KeyEvent(kb.ArrowDown))
		focused = value(t, ctx, active)
		if focused != "menu-tokens" {
			t.Errorf("ArrowDown focuses %q", focused)
		}
		run(t, ctx, chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.CSS("#user-menu")))
		focused = value(t, ctx, active)
		if focused != "user-menu-button" {
			t.Errorf("Escape leaves the focus on %q", focused)
		}
		run(t, ctx, chromedp.Focus(chromedp.CSS("#add-key")), chromedp.KeyEvent(kb.Enter),
			chromedp.WaitVisible(chromedp.CSS("#new-key-dialog")), chromedp.KeyEvent(kb.Escape),
			chromedp.WaitNotVisible(chromedp.CSS("#new-key-dialog")))
	})

	t.Run("a scoped key: the scope editor in Add key, its summary in the table, enforced", func(t *testing.T) {
		run(t, ctx, chromedp.Navigate(url+"/keys"), chromedp.WaitVisible(chromedp.CSS("#keys-empty")),
			chromedp.Click(chromedp.CSS("#add-key")), chromedp.WaitVisible(chromedp.CSS("#new-key-description")),
			chromedp.SendKeys(chromedp.CSS("#new-key-description"), "read-only reporter"),
			chromedp.Click(chromedp.CSS("#new-key-scope summary")), chromedp.WaitVisible(chromedp.CSS("#new-key-namespaces")),
			chromedp.Click(chromedp.CSS(`#new-key-scope input[name=scope-cluster][value="`+cluster.Name+`"]`)),
			chromedp.SendKeys(chromedp.CSS("#new-key-namespaces"), "Team_A"), chromedp.Click(chromedp.CSS("#new-key-readonly")),
			chromedp.Click(chromedp.CSS("#new-key-create")), chromedp.WaitVisible(chromedp.CSS("#new-key-error")))
		if got := text(t, ctx, "#new-key-error"); !strings.Contains(got, "scope.namespaces") {
			t.Errorf("a bad namespace in the scope: %q", got)
		}
		value(t, ctx, chromedp.Evaluate[string](`document.querySelector("#new-key-namespaces").value = ""`))
		run(t, ctx, chromedp.SendKeys(chromedp.CSS("#new-key-namespaces"), "team-a, kube-public"))
		screenshot(t, ctx, "key-scope-editor-en")
		run(t, ctx, chromedp.Click(chromedp.CSS("#new-key-create")), chromedp.WaitVisible(chromedp.CSS("#created-sk")))
		ak, sk := text(t, ctx, "#created-ak"), text(t, ctx, "#created-sk")
		run(t, ctx, chromedp.KeyEvent(kb.Escape), chromedp.WaitVisible(chromedp.CSS(`tr[data-ak="`+ak+`"]`)))
		want := "Clusters: " + cluster.Name + " · Namespaces: team-a, kube-public · read-only"
		if got := text(t, ctx, `tr[data-ak="`+ak+`"] td.scope`); got != want {
			t.Errorf("the scope in the table: %q, want %q", got, want)
		}
		client := &http.Client{Timeout: 10 * time.Second}
		tok := testhttp.Want(t, testhttp.Call(t, client, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 200).JSON(t)["token"].(string)
		proxy := url + "/api/v1/cube/proxy/clusters/" + cluster.Name + "/api/v1/namespaces/"
		testhttp.Want(t, testhttp.Call(t, client, "GET", proxy+"kube-public/configmaps", tok, nil), 200)
		if r := testhttp.Want(t, testhttp.Call(t, client, "GET", proxy+"default/configmaps", tok, nil), 403); !strings.Contains(string(r.Body), "namespaces") {
			t.Errorf("another namespace: %s", r.Body)
		}
		testhttp.Want(t, testhttp.Call(t, client, "POST", proxy+"kube-public/configmaps", tok, map[string]any{"metadata": map[string]string{"name": "x"}}), 403)
		run(t, ctx, chromedp.Click(chromedp.CSS(`tr[data-ak="`+ak+`"] button[data-action=delete]`)), chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
			chromedp.Click(chromedp.CSS("#confirm-ok")), chromedp.WaitVisible(chromedp.CSS("#keys-empty")))
	})

	t.Run("an administrator sets the lifetime policy in Settings, and Add key says and enforces it", func(t *testing.T) {
		run(t, ctx, chromedp.Navigate(url+"/settings"), chromedp.WaitVisible(chromedp.CSS("#policy-form")))
		value(t, ctx, chromedp.Evaluate[string](`document.querySelector("#policy-key-days").value = ""`))
		run(t, ctx, chromedp.SendKeys(chromedp.CSS("#policy-key-days"), "2"), chromedp.Click(chromedp.CSS("#policy-save")), chromedp.WaitVisible(chromedp.CSS("#policy-done")))
		screenshot(t, ctx, "settings-en")
		run(t, ctx, chromedp.Navigate(url+"/keys"), chromedp.WaitVisible(chromedp.CSS("#keys-empty")),
			chromedp.Click(chromedp.CSS("#add-key")), chromedp.WaitVisible(chromedp.CSS("#new-key-policy")))
		if got := text(t, ctx, "#new-key-policy"); !strings.Contains(got, "at most 2 days") {
			t.Errorf("the dialog's policy hint: %q", got)
		}
		run(t, ctx, chromedp.Click(chromedp.CSS("#new-key-create")), chromedp.WaitVisible(chromedp.CSS("#new-key-error")))
		if got := text(t, ctx, "#new-key-error"); !strings.Contains(got, "48h") {
			t.Errorf("a key without expiry under a 2-day policy: %q", got)
		}
		run(t, ctx, chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.CSS("#new-key-dialog")))
		// Back to no limit for the tests that follow.
		run(t, ctx, chromedp.Navigate(url+"/settings"), chromedp.WaitVisible(chromedp.CSS("#policy-form")))
		value(t, ctx, chromedp.Evaluate[string](`document.querySelector("#policy-key-days").value = "0"`))
		run(t, ctx, chromedp.Click(chromedp.CSS("#policy-save")), chromedp.WaitVisible(chromedp.CSS("#policy-done")))
	})

	t.Run("personal access tokens: from the user menu, scoped, shown once, a bearer token as is, deleted", func(t *testing.T) {
		run(t, ctx, chromedp.Click(chromedp.CSS("#user-menu-button")), chromedp.WaitVisible(chromedp.CSS("#menu-tokens")),
			chromedp.Click(chromedp.CSS("#menu-tokens")), chromedp.WaitVisible(chromedp.CSS("#tokens-empty")),
			chromedp.Click(chromedp.CSS("#add-token")), chromedp.WaitVisible(chromedp.CSS("#new-token-name")),
			chromedp.SendKeys(chromedp.CSS("#new-token-name"), "deploy bot"),
			chromedp.Click(chromedp.CSS("#new-token-scope summary")), chromedp.WaitVisible(chromedp.CSS("#new-token-readonly")),
			chromedp.Click(chromedp.CSS("#new-token-readonly")),
			chromedp.Click(chromedp.CSS("#new-token-create")), chromedp.WaitVisible(chromedp.CSS("#created-token")))
		tok := text(t, ctx, "#created-token")
		if !strings.HasPrefix(tok, "kgpat.") {
			t.Fatalf("the dialog shows %q", tok)
		}
		screenshot(t, ctx, "token-created-en")
		run(t, ctx, chromedp.KeyEvent(kb.Escape), chromedp.WaitVisible(chromedp.CSS("#tokens-table")))
		if got := text(t, ctx, "#tokens-table tbody"); !strings.Contains(got, "deploy bot") || !strings.Contains(got, "read-only") {
			t.Errorf("the token's row: %q", got)
		}
		screenshot(t, ctx, "tokens-en")
		client := &http.Client{Timeout: 10 * time.Second}
		proxy := url + "/api/v1/cube/proxy/clusters/" + cluster.Name + "/api/v1/namespaces/default/configmaps"
		testhttp.Want(t, testhttp.Call(t, client, "GET", proxy, tok, nil), 200)
		testhttp.Want(t, testhttp.Call(t, client, "POST", proxy, tok, map[string]any{"metadata": map[string]string{"name": "x"}}), 403)
		run(t, ctx, chromedp.Click(chromedp.CSS("#tokens-table button[data-action=delete-token]")), chromedp.WaitVisible(chromedp.CSS("#confirm-ok")))
		if got := text(t, ctx, "#confirm-text"); !strings.Contains(got, "deploy bot") {
			t.Errorf("the confirmation does not name the token: %q", got)
		}
		run(t, ctx, chromedp.Click(chromedp.CSS("#confirm-ok")), chromedp.WaitVisible(chromedp.CSS("#tokens-empty")))
		testhttp.Want(t, testhttp.Call(t, client, "GET", proxy, tok, nil), 401)
	})

	t.Run("at the limit the button is disabled and says why", func(t *testing.T) {
		run(t, ctx, chromedp.Navigate(url+"/keys"), chromedp.WaitVisible(chromedp.CSS("#keys-empty")))
		for range 2 {
			run(t, ctx, chromedp.Click(chromedp.CSS("#add-key")), chromedp.WaitVisible(chromedp.CSS("#new-key-create")),
				chromedp.Click(chromedp.CSS("#new-key-create")), chromedp.WaitVisible(chromedp.CSS("#created-close")),
				chromedp.KeyEvent(kb.Escape), chromedp.WaitVisible(chromedp.CSS("#keys-table")), chromedp.Sleep(300*time.Millisecond))
		}
		run(t, ctx, chromedp.WaitVisible(chromedp.CSS("#key-limit")))
		disabled := value(t, ctx, chromedp.Evaluate[bool](`document.querySelector("#add-key").disabled`))
		if !disabled {
			t.Error("Add key is enabled at the limit")
		}
		if got := text(t, ctx, "#key-limit"); !strings.Contains(got, "2 of 2") {
			t.Errorf("limit message: %q", got)
		}
	})

	t.Run("a state-changing request without the CSRF header is refused", func(t *testing.T) {
		status := value(t, ctx, chromedp.Evaluate[int](`fetch("/api/v1/cube/key/create", {method: "POST", credentials: "same-origin"}).then(r => r.status)`,
			chromedp.EvalAwaitPromise))
		if status != http.StatusForbidden {
			t.Errorf("POST without X-CSRF-Token: %d, want 403", status)
		}
	})

	t.Run("the Chinese pages show Chinese labels, and the choice is remembered", func(t *testing.T) {
		run(t, ctx, chromedp.Navigate(url+"/keys?lang=zh-CN"), chromedp.WaitVisible(chromedp.CSS("#keys-table")))
		if got := text(t, ctx, "h1"); got != "访问密钥" {
			t.Errorf("zh-CN heading: %q", got)
		}
		screenshot(t, ctx, "keys-zh")
		// Every page in Chinese, and the key dialog: one key goes to make room.
		for _, pg := range []struct{ path, ready, heading string }{
			{"/clusters", "#clusters-table", "集群"}, {"/users", "#users-table", "用户"}, {"/audit", "#audit-table", "审计日志"}, {"/tokens", "#tokens-empty", "个人访问令牌"},
		} {
			run(t, ctx, chromedp.Navigate(url+pg.path), chromedp.WaitVisible(chromedp.CSS(pg.ready)))
			if got := text(t, ctx, "h1"); got != pg.heading {
				t.Errorf("%s in zh-CN: heading %q, want %q", pg.path, got, pg.heading)
			}
			screenshot(t, ctx, strings.TrimPrefix(pg.path, "/")+"-zh")
		}
		run(t, ctx, chromedp.Navigate(url+"/keys"), chromedp.WaitVisible(chromedp.CSS("#keys-table")),
			chromedp.Click(chromedp.CSS("#keys-table button[data-action=delete]")), chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
			chromedp.Click(chromedp.CSS("#confirm-ok")))
		waitFor(t, ctx, func() bool { return strings.HasPrefix(text(t, ctx, "#key-count"), "1 ") })
		// The delete reloads the page; a node found while that load was still
		// settling can be gone by the click ("No node with given id found"), so
		// the page is loaded afresh, to its load event, before the next click.
		run(t, ctx, chromedp.Navigate(url+"/keys"), chromedp.WaitVisible(chromedp.CSS("#add-key")))
		run(t, ctx, chromedp.Click(chromedp.CSS("#add-key")), chromedp.WaitVisible(chromedp.CSS("#new-key-create")),
			chromedp.Click(chromedp.CSS("#new-key-create")), chromedp.WaitVisible(chromedp.CSS("#created-sk")))
		if got := text(t, ctx, "#created-dialog .warning"); !strings.Contains(got, "无法再次查看") {
			t.Errorf("zh-CN secret warning: %q", got)
		}
		screenshot(t, ctx, "key-created-zh")
		run(t, ctx, chromedp.KeyEvent(kb.Escape), chromedp.WaitVisible(chromedp.CSS("#key-limit")))
		run(t, ctx, chromedp.Navigate(url+"/password"), chromedp.WaitVisible(chromedp.CSS("#password-form")))
		if got := text(t, ctx, "h1"); got != "修改密码" {
			t.Errorf("the language was not remembered: %q", got)
		}
		run(t, ctx, chromedp.Click(chromedp.CSS("#user-menu-button")), chromedp.WaitVisible(chromedp.CSS("#menu-logout")), chromedp.Click(chromedp.CSS("#menu-logout")),
			chromedp.WaitVisible(chromedp.CSS("#login-form")))
		if got := text(t, ctx, "h1"); got != "登录" {
			t.Errorf("zh-CN login heading: %q", got)
		}
		screenshot(t, ctx, "login-zh")
	})

	t.Run("after a password change, which ends every session, the browser is sent to log in again", func(t *testing.T) {
		run(t, ctx, chromedp.SendKeys(chromedp.CSS("#login-name"), "admin"), chromedp.SendKeys(chromedp.CSS("#login-password"), adminPassword),
			chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#add-key")),
			chromedp.Navigate(url+"/password"), chromedp.WaitVisible(chromedp.CSS("#password-form")),
			chromedp.SendKeys(chromedp.CSS("#old-password"), adminPassword), chromedp.SendKeys(chromedp.CSS("#new-password"), "a-new-admin-password"),
			chromedp.Click(chromedp.CSS("#password-form [type=submit]")), chromedp.WaitVisible(chromedp.CSS("#password-done")))
		// Keys are not bound to the password: the page says so, so that a user
		// changing a leaked password also deletes the keys they no longer trust.
		// (The browser is in Chinese here, from the test before.)
		if done := text(t, ctx, "#password-done"); !strings.Contains(done, "Access keys and personal access tokens stay valid") &&
			!strings.Contains(done, "访问密钥和个人访问令牌仍然有效") {
			t.Errorf("the password page does not say that keys survive: %q", done)
		}
		run(t, ctx, chromedp.Navigate(url+"/keys"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
		run(t, ctx, chromedp.SendKeys(chromedp.CSS("#login-name"), "admin"), chromedp.SendKeys(chromedp.CSS("#login-password"), "a-new-admin-password"),
			chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#add-key")))
	})
}

// Every console page and asset carries the CSP and the other security headers,
// and the session cookie is HttpOnly and SameSite.
func TestConsoleHeadersAndCookies(t *testing.T) {
	url, _ := gateway(t)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	r := testhttp.Want(t, testhttp.Call(t, client, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200)
	cookies := (&http.Response{Header: r.Header}).Cookies()
	session := ""
	for _, c := range cookies {
		if c.Name == authn.SessionCookie {
			session = c.Value
		}
		if c.Name == authn.SessionCookie && (!c.HttpOnly || c.SameSite == http.SameSiteNoneMode || c.SameSite == http.SameSiteDefaultMode) {
			t.Errorf("session cookie flags: HttpOnly=%v SameSite=%v", c.HttpOnly, c.SameSite)
		}
	}
	if len(cookies) < 2 {
		t.Fatalf("login set %d cookies", len(cookies))
	}
	for _, path := range []string{"/", "/login", "/keys", "/password", "/clusters", "/users", "/audit", "/tokens", "/settings", "/assets/console.js", "/assets/console.css"} {
		res, err := client.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		csp := res.Header.Get("Content-Security-Policy")
		if path != "/" && path != "/login" && res.Request.URL.Path != path { // those two go to /keys when logged in
			t.Errorf("%s went to %s", path, res.Request.URL)
		}
		if res.StatusCode != 200 || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d, CSP %q, nosniff %q", path, res.StatusCode, csp, res.Header.Get("X-Content-Type-Options"))
		}
	}
	// No directory listings, and a dead session cookie is forgotten, not a 401 on every page.
	testhttp.Want(t, testhttp.Call(t, client, "GET", url+"/assets/", "", nil), 404)
	testhttp.Want(t, testhttp.Call(t, client, "POST", url+"/api/v1/cube/logout", "", nil, "X-CSRF-Token", csrf(jar, url)), 204)
	r = testhttp.Want(t, testhttp.Call(t, &http.Client{Timeout: 10 * time.Second}, "GET", url+"/login", "", nil, "Cookie", authn.SessionCookie+"="+session), 200)
	if !strings.Contains(r.Header.Get("Set-Cookie"), authn.SessionCookie+"=;") {
		t.Errorf("a dead session cookie was not expired: %q", r.Header.Values("Set-Cookie"))
	}
}

func csrf(jar http.CookieJar, base string) string {
	u, _ := neturl.Parse(base)
	for _, c := range jar.Cookies(u) {
		if c.Name == request.CSRFCookie {
			return c.Value
		}
	}
	return ""
}
