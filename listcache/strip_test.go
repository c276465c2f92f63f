package listcache

import "testing"

func TestStripTypeMeta(t *testing.T) {
	for in, want := range map[string]string{
		`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","kind":"x"},"data":{"kind":"y"}}`: `{"metadata":{"name":"a","kind":"x"},"data":{"kind":"y"}}`,
		`{"metadata":{"name":"a"}, "kind" : "Pod" ,"apiVersion":"v1"}`:                                  `{"metadata":{"name":"a"}}`,
		`{"metadata":{}}`: `{"metadata":{}}`,
		`{ "apiVersion":"v1",` + "\n" + ` "spec":{"a":[1,2]},"status":"ok"}`: `{"spec":{"a":[1,2]},"status":"ok"}`,
	} {
		got, err := stripTypeMeta([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("stripTypeMeta(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := stripTypeMeta([]byte(`[1]`)); err == nil {
		t.Error("an array was taken for an object")
	}
}
