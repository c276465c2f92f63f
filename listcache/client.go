package listcache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
)

// get sends a GET of the collection with query v as the gateway.
func (c *Collection) get(ctx context.Context, v url.Values) (*http.Response, error) {
	return c.getPath(ctx, c.path, v)
}

// getPath is get of another path of the collection's cluster.
func (c *Collection) getPath(ctx context.Context, path string, v url.Values) (*http.Response, error) {
	resp, err := send(ctx, c.target, http.MethodGet, path, v, nil)
	if err != nil {
		return nil, kubegate.Errorf(kubegate.EUnavailable, "cluster %s is unreachable: %v", c.target.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		switch resp.StatusCode {
		case http.StatusGone:
			return nil, errGone
		case http.StatusUnauthorized, http.StatusForbidden:
			return nil, fmt.Errorf("%w: %w: cluster %s answered %d: %s", ErrUncachable, errRefused, c.target.Name, resp.StatusCode, body)
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			return nil, fmt.Errorf("%w: cluster %s answered %d: %s", ErrUncachable, c.target.Name, resp.StatusCode, body)
		}
		return nil, fmt.Errorf("cluster %s answered %d: %s", c.target.Name, resp.StatusCode, body)
	}
	return resp, nil
}

// send sends method path?query (and a JSON body, when given) to target with the
// gateway's own credential, asking for JSON: how the cache reaches a cluster.
func send(ctx context.Context, target *cluster.Member, method, path string, query url.Values, body []byte) (*http.Response, error) {
	u := *target.Server
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return target.Transport.RoundTrip(req)
}

// listItemsTyped asks the cluster, with a one-item list, whether the
// collection's list items carry kind and apiVersion, and remembers the answer
// when the list has an item to tell by.
func (c *Collection) listItemsTyped(ctx context.Context) (bool, error) {
	resp, err := c.get(ctx, url.Values{"limit": {"1"}})
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var page struct {
		Items []objectMeta `json:"items"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&page); err != nil {
		return false, fmt.Errorf("decoding the list: %w", err)
	}
	if len(page.Items) == 0 {
		return false, nil // the object was deleted meanwhile: its event is stored as built-in types list it
	}
	typed := page.Items[0].Kind != ""
	c.mu.Lock()
	c.typed, c.typedKnown = typed, true
	c.mu.Unlock()
	return typed, nil
}

// ClusterResourceVersion is the cluster's resource version now, which a
// consistent answer must reflect: a consistent one-item list of the collection
// as the gateway. Any consistent read returns it, and the apiserver serves one
// from its cache at the cost of the scope it lists, so for a namespaced
// resource it lists the namespace where the cache holds the fewest objects (at
// 100k objects: 1 ms against 15 ms for the whole cluster).
func (c *Collection) ClusterResourceVersion(ctx context.Context) (uint64, error) {
	path := c.path
	if _, namespaced := c.Count(""); namespaced {
		i := strings.LastIndexByte(path, '/')
		path = path[:i] + "/namespaces/" + c.store.smallestNamespace() + path[i:]
	}
	resp, err := c.getPath(ctx, path, url.Values{"limit": {"1"}})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var l struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&l); err != nil {
		return 0, fmt.Errorf("cluster %s: decoding a list: %w", c.target.Name, err)
	}
	return parseRV(l.Metadata.ResourceVersion)
}
