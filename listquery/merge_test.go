package listquery_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/listquery"
)

// Merging sources' best items (each source asked for Top) pages the query over
// all of them as one list, ordered by key, then source, namespace and name:
// the same answer as the reference over the union.
func TestMergeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 400 {
		sources := make([][]string, 1+rng.IntN(4))
		for i := range sources {
			sources[i] = randomObjects(rng, "o", rng.IntN(30)) // names repeat across sources
		}
		q, v := randomQuery(t, rng)
		ranked := make([]listquery.Ranked, len(sources))
		for i, objs := range sources {
			p := listquery.NewPager(q.Top(5000), 5000)
			for _, o := range objs {
				if err := p.Add(json.RawMessage(o)); err != nil {
					t.Fatal(err)
				}
			}
			items, err := p.Page()
			if err != nil {
				t.Fatal(err)
			}
			ranked[i] = listquery.Ranked{Source: fmt.Sprintf("s%d", i), Items: items, Total: p.Total()}
		}
		// The order sources answer in is no order.
		rng.Shuffle(len(ranked), func(i, j int) { ranked[i], ranked[j] = ranked[j], ranked[i] })
		page, total, err := listquery.Merge(q, ranked, 5000)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range page {
			var o struct {
				Metadata struct{ Name string } `json:"metadata"`
			}
			_ = json.Unmarshal(it.Item, &o)
			got = append(got, it.Source+"/"+o.Metadata.Name)
		}
		want, wantTotal := refRunSources(q, sources)
		if len(sources) == 1 {
			for i := range want {
				want[i] = "s0/" + want[i]
			}
		}
		if !reflect.DeepEqual(got, want) || total != wantTotal {
			t.Fatalf("round %d: %d sources, %s\n got  %v (%d)\n want %v (%d)", round, len(sources), v.Encode(), got, total, want, wantTotal)
		}
	}
}

// pageSize=0 across sources is capped over their sum, as on one.
func TestMergeCapsPageSizeZero(t *testing.T) {
	q := mustParse(t, "pageSize=0")
	ranked := []listquery.Ranked{{Source: "a", Total: 3}, {Source: "b", Total: 3}}
	if _, _, err := listquery.Merge(q, ranked, 5); kubegate.ErrorCode(err) != kubegate.EInvalid || !strings.Contains(err.Error(), "all 6 matches") {
		t.Fatalf("pageSize=0 over 6 with a cap of 5: %v", err)
	}
}
