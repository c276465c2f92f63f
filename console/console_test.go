package console

import (
	"io/fs"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/grants"
)

// Every message is in both languages, and every key the templates and the
// script use is in the catalog.
func TestEveryMessageIsTranslated(t *testing.T) {
	for key, m := range catalog {
		if m.en == "" || m.zh == "" {
			t.Errorf("message %q lacks a translation: en=%q zh=%q", key, m.en, m.zh)
		}
	}
	used := regexp.MustCompile(`\.T "([^"]+)"`)
	// Messages named at run time: the prefix and every value it takes.
	dynamic := map[string][]string{
		"keys.status.":     {"Active", "Inactive", "Expired"},
		"clusters.status.": {"Ready", "Unreachable", "Unauthorized", "Unknown"},
		"audit.status.":    auditPage{}.statuses(),
		"grants.state.":    {string(kubegate.GrantApplied), string(kubegate.GrantPending), string(kubegate.GrantFailed)},
		"access.level.":    {string(grants.LevelNone), string(grants.LevelRead), string(grants.LevelWrite), string(grants.LevelAll)},
	}
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, path)
		if err != nil {
			return err
		}
		for _, m := range used.FindAllSubmatch(b, -1) {
			if _, ok := catalog[string(m[1])]; !ok {
				t.Errorf("%s uses message %q, which the catalog lacks", path, m[1])
			}
		}
		for _, m := range regexp.MustCompile(`printf "([a-z.]+)%s"`).FindAllSubmatch(b, -1) {
			values, ok := dynamic[string(m[1])]
			if !ok {
				t.Errorf("%s names messages %s… at run time: list their values in this test", path, m[1])
			}
			for _, v := range values {
				if _, ok := catalog[string(m[1])+v]; !ok {
					t.Errorf("%s shows %s%s, which the catalog lacks", path, m[1], v)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLanguageFromSwitchThenAcceptLanguage(t *testing.T) {
	for _, c := range []struct {
		accept, cookie string
		want           Lang
	}{
		{"", "", English},
		{"zh-CN,zh;q=0.9,en;q=0.8", "", Chinese},
		{"zh-TW", "", Chinese},
		{"fr-FR,en;q=0.5", "", English},
		{"de", "", English},
		{"zh-CN", "en", English},
		{"en", "zh-CN", Chinese},
		{"en", "klingon", English},
		{"!!!", "", English},
	} {
		r := httptest.NewRequest("GET", "/keys", nil)
		r.Header.Set("Accept-Language", c.accept)
		if c.cookie != "" {
			r.Header.Set("Cookie", langCookie+"="+c.cookie)
		}
		if got := langOf(r); got != c.want {
			t.Errorf("Accept-Language %q, cookie %q: %s, want %s", c.accept, c.cookie, got, c.want)
		}
	}
}

// After logging in, the console goes back where the user was going, but never
// to another origin.
func TestLoginRedirectStaysOnTheGateway(t *testing.T) {
	for next, want := range map[string]string{
		"/keys":                "/keys",
		"/password?x=1":        "/password?x=1",
		"":                     "/keys",
		"//evil.example/x":     "/keys",
		"/\\evil.example":      "/keys",
		"https://evil.example": "/keys",
		"javascript:alert(1)":  "/keys",
		"keys":                 "/keys",
		"/x\r\nSet-Cookie: a":  "/keys",
		// Judged after cleaning, as http.Redirect and the browser will see it.
		"/x/../\\evil.example":  "/keys",
		"/x/..//evil.example":   "/evil.example", // a path here, not a host
		"/x/../%5Cevil.example": "/keys",
		"///evil.example":       "/evil.example",
		"/./audit?page=2":       "/audit?page=2",
		"/users/../audit":       "/audit",
	} {
		if got := localPath(next); got != want {
			t.Errorf("localPath(%q) = %q, want %q", next, got, want)
		}
	}
}
