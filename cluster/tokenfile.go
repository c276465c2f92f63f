package cluster

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// tokenFileTTL is how long a token read from a file is used before the file is
// read again. The kubelet rewrites a projected service account token well before
// it expires (at 80 % of its life); client-go's own reading keeps a token for a
// minute and does not look again when the cluster refuses it, which leaves a
// gateway refused for up to that long after a rotation.
const tokenFileTTL = 5 * time.Second

// tokenFile authenticates requests with the bearer token in a file that is
// rotated under the gateway: read at most every tokenFileTTL, and again at once
// after the cluster answers 401 (the token may have been replaced and the old
// one revoked).
type tokenFile struct {
	path string
	next http.RoundTripper
	now  func() time.Time

	mu     sync.Mutex
	token  string
	readAt time.Time
}

func (t *tokenFile) current() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Sub(t.readAt) < tokenFileTTL {
		return t.token, nil
	}
	b, err := os.ReadFile(t.path)
	tok := strings.TrimSpace(string(b))
	switch {
	case err == nil && tok == "":
		err = fmt.Errorf("the token file %s is empty", t.path)
	case err == nil:
		t.token, t.readAt = tok, t.now()
		return tok, nil
	}
	if t.token != "" {
		return t.token, nil // a file being replaced: the last token until it is back
	}
	return "", err
}

// refused forgets token, if it is still the current one: the next request reads
// the file again.
func (t *tokenFile) refused(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == token {
		t.readAt = time.Time{}
	}
}

func (t *tokenFile) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.current()
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		t.refused(tok)
	}
	return resp, err
}
