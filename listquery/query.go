// Package listquery parses the list extension parameters of both dialects —
// KubeCube's selector/sortName/sortOrder/sortFunc/pageSize/pageNum and DCE's
// kpanda name/fuzzyName/sortBy/sortDir/page/pageSize — into one Query, and
// evaluates it over list items: filter, sort (stable), page. It knows nothing of
// HTTP; bad parameters are *kubegate.Error with EInvalid naming the parameter.
package listquery

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kubegate/kubegate"
)

// Op is a condition's operator.
type Op int

// Operators: = exact, ~ case-insensitive substring, and their negations
// (KubeCube's); in and notin a set, < and > on numbers and times, and whether a
// key exists (Rancher Steve's filter grammar).
const (
	Eq Op = iota
	Fuzzy
	NotEq
	NotFuzzy
	In
	NotIn
	Lt
	Gt
	Exists
	NotExists
)

func (o Op) String() string {
	return [...]string{"=", "~", "!=", "!~", " in ", " notin ", "<", ">", "", "!"}[o]
}

// Cond is one condition of a selector: the value at Path, compared with any of
// Values.
type Cond struct {
	Path   Path
	Op     Op
	Values []string // alternatives ("a|b"); lower-cased for fuzzy operators
}

// SortFunc says how sort keys compare.
type SortFunc int

// Sort functions.
const (
	SortString SortFunc = iota
	SortNumber
	SortTime
)

// Query is a parsed list query.
type Query struct {
	Conds    []Cond
	SortPath Path
	SortFunc SortFunc
	Desc     bool
	// PageSize 0 means every match (up to the configured cap); PageNum is 1-based.
	PageSize int
	PageNum  int
}

// Params are the KubeCube extension parameters; their presence turns a proxied list
// into a query.
var Params = []string{"selector", "pageSize", "pageNum", "sortName", "sortOrder", "sortFunc"} //nolint:gochecknoglobals // a constant list.

// Present reports whether any KubeCube extension parameter is in q.
func Present(q url.Values) bool {
	for _, p := range Params {
		if _, ok := q[p]; ok {
			return true
		}
	}
	return false
}

func invalid(param, format string, args ...any) error {
	return kubegate.Errorf(kubegate.EInvalid, "parameter %s: %s", param, fmt.Sprintf(format, args...))
}

// single returns the one value of param; ok is false when it is absent or empty
// (KubeCube's own template sends every parameter empty: an empty value means the
// default). Repeating it is an error.
func single(q url.Values, param string) (v string, ok bool, err error) {
	vs, present := q[param]
	if !present {
		return "", false, nil
	}
	if len(vs) != 1 {
		return "", true, invalid(param, "given %d times; give it once", len(vs))
	}
	return vs[0], vs[0] != "", nil
}

func intParam(q url.Values, param string, def, min int) (int, error) {
	v, ok, err := single(q, param)
	if err != nil || !ok {
		return def, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return 0, invalid(param, "must be an integer of at least %d, got %q", min, v)
	}
	return n, nil
}

// MaxOffset bounds how deep a list pages: a page starts at most this many matches
// in. A query keeps every match before its page to rank it, so without a bound a
// deep page of an empty tail would hold the whole collection in memory (and a
// huge page number would overflow). Past it, narrow the selector instead.
const MaxOffset = 10_000

// checkDepth refuses a page that starts past MaxOffset, without overflowing.
func checkDepth(param string, pageNum, pageSize int) error {
	if pageSize > 0 && pageNum-1 > MaxOffset/pageSize {
		return invalid(param, "page %d of %d starts past the deepest a list pages (%d items in): narrow the selector instead", pageNum, pageSize, MaxOffset)
	}
	return nil
}

// ParseKubeCube reads KubeCube's parameters. maxPageSize bounds pageSize (and what
// pageSize=0 may return).
func ParseKubeCube(q url.Values, maxPageSize int) (*Query, error) {
	out := &Query{PageNum: 1}
	var err error
	if out.PageSize, err = intParam(q, "pageSize", 10, 0); err != nil {
		return nil, err
	}
	if out.PageSize > maxPageSize {
		return nil, invalid("pageSize", "must be at most %d; page through larger lists", maxPageSize)
	}
	if out.PageNum, err = intParam(q, "pageNum", 1, 1); err != nil {
		return nil, err
	}
	if err := checkDepth("pageNum", out.PageNum, out.PageSize); err != nil {
		return nil, err
	}
	if sel, ok, err := single(q, "selector"); err != nil {
		return nil, err
	} else if ok {
		if out.Conds, err = ParseSelector(sel); err != nil {
			return nil, err
		}
	}
	sortName, ok, err := single(q, "sortName")
	if err != nil {
		return nil, err
	}
	if !ok {
		sortName = "metadata.name"
	}
	if out.SortPath, err = ParsePath(sortName); err != nil {
		return nil, invalid("sortName", "%s", kubegate.ErrorMessage(err))
	}
	switch v, _, err := single(q, "sortOrder"); {
	case err != nil:
		return nil, err
	case v == "" || strings.EqualFold(v, "asc"):
	case strings.EqualFold(v, "desc"):
		out.Desc = true
	default:
		return nil, invalid("sortOrder", "must be asc or desc, got %q", v)
	}
	switch v, _, err := single(q, "sortFunc"); {
	case err != nil:
		return nil, err
	case v == "" || v == "string":
	case v == "number":
		out.SortFunc = SortNumber
	case v == "time":
		out.SortFunc = SortTime
	default:
		return nil, invalid("sortFunc", "must be string, number or time, got %q", v)
	}
	return out, nil
}

// Bounds of a selector: every condition is evaluated against every item of a
// list and every event of a watch, so what a request may ask for is capped.
const (
	MaxSelectorBytes   = 8 << 10
	MaxConditions      = 32
	MaxAlternatives    = 64  // per condition ("a|b|c")
	MaxAlternativesAll = 256 // over the whole selector
)

// ParseSelector parses "k1=v1,k2~v2|v3,k3!=v4,metadata.labels.app.kubernetes.io/name=web";
// an empty selector selects everything.
func ParseSelector(s string) ([]Cond, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > MaxSelectorBytes {
		return nil, invalid("selector", "is %d bytes long; the limit is %d", len(s), MaxSelectorBytes)
	}
	parts := splitTop(s, ',')
	if len(parts) > MaxConditions {
		return nil, invalid("selector", "has %d conditions; the limit is %d", len(parts), MaxConditions)
	}
	var conds []Cond
	alternatives := 0
	for _, part := range parts {
		c, err := parseCond(part)
		if err != nil {
			return nil, err
		}
		if len(c.Values) > MaxAlternatives {
			return nil, invalid("selector", "condition on %s has %d alternatives; the limit is %d", strings.Join(c.Path, "."), len(c.Values), MaxAlternatives)
		}
		if alternatives += len(c.Values); alternatives > MaxAlternativesAll {
			return nil, invalid("selector", "has more than %d alternatives in all", MaxAlternativesAll)
		}
		conds = append(conds, c)
	}
	return conds, nil
}

// splitTop splits s at sep outside brackets and parentheses (a set: "in (a,b)").
func splitTop(s string, sep byte) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '(':
			depth++
		case ']', ')':
			if depth > 0 {
				depth--
			}
		case sep:
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// setCond is Steve's "key in (a,b)" and "key notin (a,b)".
var setCond = regexp.MustCompile(`^\s*([^\s=~!<>()]+)\s+(in|notin)\s*\((.*)\)\s*$`)

// bareKey is Steve's existence test: "key" or "!key".
var bareKey = regexp.MustCompile(`^\s*(!?)([^=~!<>\s()]+)\s*$`)

// condPath parses the key of the condition part.
func condPath(part, key string) (Path, error) {
	path, err := ParsePath(key)
	if err != nil {
		return nil, invalid("selector", "condition %q: %s", part, kubegate.ErrorMessage(err))
	}
	return path, nil
}

func parseCond(part string) (Cond, error) {
	if m := setCond.FindStringSubmatch(part); m != nil {
		path, err := condPath(part, m[1])
		if err != nil {
			return Cond{}, err
		}
		op := In
		if m[2] == "notin" {
			op = NotIn
		}
		var values []string
		for _, v := range strings.Split(m[3], ",") {
			values = append(values, strings.TrimSpace(v))
		}
		return Cond{Path: path, Op: op, Values: values}, nil
	}
	if m := bareKey.FindStringSubmatch(part); m != nil {
		path, err := condPath(part, m[2])
		if err != nil {
			return Cond{}, err
		}
		op := Exists
		if m[1] == "!" {
			op = NotExists
		}
		return Cond{Path: path, Op: op}, nil
	}
	// The operator is the first of = ~ != !~ < > outside brackets.
	depth := 0
	for i := 0; i < len(part); i++ {
		switch part[i] {
		case '[':
			depth++
			continue
		case ']':
			depth--
			continue
		}
		if depth > 0 {
			continue
		}
		var op Op
		key, n := part[:i], 1
		switch {
		case part[i] == '!' && i+1 < len(part) && part[i+1] == '=':
			op, n = NotEq, 2
		case part[i] == '!' && i+1 < len(part) && part[i+1] == '~':
			op, n = NotFuzzy, 2
		case part[i] == '=':
			op = Eq
		case part[i] == '~':
			op = Fuzzy
		case part[i] == '<':
			op = Lt
		case part[i] == '>':
			op = Gt
		default:
			continue
		}
		if strings.TrimSpace(key) == "" {
			return Cond{}, invalid("selector", "condition %q has an empty key", part)
		}
		path, err := condPath(part, key)
		if err != nil {
			return Cond{}, err
		}
		value := part[i+n:]
		if strings.ContainsAny(value[:min(len(value), 1)], "=~") {
			return Cond{}, invalid("selector", "condition %q has an unknown operator; use =, ~, != or !~", part)
		}
		if op == Lt || op == Gt {
			if _, ok := ordinal(value); !ok {
				return Cond{}, invalid("selector", "condition %q compares with %q, which is neither a number nor an RFC 3339 time", part, value)
			}
			return Cond{Path: path, Op: op, Values: []string{value}}, nil
		}
		values := strings.Split(value, "|")
		if op == Fuzzy || op == NotFuzzy {
			for j := range values {
				values[j] = strings.ToLower(values[j])
			}
		}
		return Cond{Path: path, Op: op, Values: values}, nil
	}
	return Cond{}, invalid("selector", "condition %q has no operator; use key=value, key~value, key!=value, key!~value, key in (a,b), key notin (a,b), key<n, key>n, key or !key", part)
}

// ordinal reads a value that < and > compare: a number, or an RFC 3339 time
// (as Unix seconds).
func ordinal(s string) (float64, bool) {
	if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return f, true
	}
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); err == nil {
		return float64(t.UnixNano()) / 1e9, true
	}
	return 0, false
}

// Path is a parsed field path: lower-cased segments, matched case-insensitively.
type Path []string

// ParsePath parses "metadata.labels[app.kubernetes.io/name]" or "spec.replicas".
// As in KubeCube, everything after "metadata.labels." or "metadata.annotations."
// is one key, dots and slashes included: "metadata.labels.app.kubernetes.io/name"
// is the label app.kubernetes.io/name.
func ParsePath(s string) (Path, error) {
	for _, m := range [...]string{"labels", "annotations"} {
		prefix := "metadata." + m + "."
		if len(s) > len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
			key := s[len(prefix):]
			if strings.ContainsAny(key, "[]") || strings.TrimSpace(key) != key {
				return nil, kubegate.Errorf(kubegate.EInvalid, "malformed %s key in %q", m[:len(m)-1], s)
			}
			return Path{"metadata", m, key}, nil // the key keeps its case
		}
	}
	var p Path
	i := 0
	for i < len(s) {
		switch s[i] {
		case '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, kubegate.Errorf(kubegate.EInvalid, "unclosed [ in %q", s)
			}
			seg := s[i+1 : i+end]
			if seg == "" {
				return nil, kubegate.Errorf(kubegate.EInvalid, "empty [] in %q", s)
			}
			p = append(p, seg) // bracketed keys (label names) keep their case
			i += end + 1
			if i < len(s) && s[i] == '.' {
				i++
				if i == len(s) {
					return nil, kubegate.Errorf(kubegate.EInvalid, "trailing . in %q", s)
				}
			}
		default:
			end := strings.IndexAny(s[i:], ".[")
			if end < 0 {
				end = len(s) - i
			}
			seg := strings.TrimSpace(s[i : i+end])
			if seg == "" || strings.ContainsAny(seg, "]") {
				return nil, kubegate.Errorf(kubegate.EInvalid, "empty or malformed segment in %q", s)
			}
			p = append(p, seg)
			i += end
			if i < len(s) && s[i] == '.' {
				i++
				if i == len(s) {
					return nil, kubegate.Errorf(kubegate.EInvalid, "trailing . in %q", s)
				}
			}
		}
	}
	if len(p) == 0 {
		return nil, kubegate.Errorf(kubegate.EInvalid, "empty path")
	}
	return p, nil
}

// SortSpec orders items by the value at Path, compared by Func.
type SortSpec struct {
	Path Path
	Func SortFunc
}

// DCEShape describes the items a kpanda list answers with: where their name is,
// and how each of DCE's sortBy values orders them.
type DCEShape struct {
	Name Path
	// Sorts maps sortBy values to orders; Default serves an absent sortBy and
	// SORT_BY_UNSPECIFIED (DCE's "no order": kpanda keeps pages stable with it).
	Sorts   map[string]SortSpec
	Default SortSpec
}

// KubernetesShape is a Kubernetes object's shape: DCE's sortBy values field_name,
// created_at and namespace over the object's metadata.
//
//nolint:gochecknoglobals // a constant description.
var KubernetesShape = DCEShape{
	Name: Path{"metadata", "name"},
	Sorts: map[string]SortSpec{
		"field_name": {Path{"metadata", "name"}, SortString},
		"created_at": {Path{"metadata", "creationTimestamp"}, SortTime},
		"namespace":  {Path{"metadata", "namespace"}, SortString},
	},
	Default: SortSpec{Path{"metadata", "creationTimestamp"}, SortTime},
}

// ParseDCE reads DCE kpanda's list parameters page, pageSize, name, fuzzyName,
// sortBy and sortDir for items of the given shape. Filters of a resource's own
// (phase, labelSelector, ...) are the caller's.
func ParseDCE(q url.Values, maxPageSize int, shape DCEShape) (*Query, error) {
	out := &Query{SortPath: shape.Default.Path, SortFunc: shape.Default.Func, Desc: true}
	var err error
	if out.PageNum, err = intParam(q, "page", 1, 1); err != nil {
		return nil, err
	}
	if out.PageSize, err = intParam(q, "pageSize", 10, 0); err != nil {
		return nil, err
	}
	if out.PageSize > maxPageSize {
		return nil, invalid("pageSize", "must be at most %d; page through larger lists", maxPageSize)
	}
	if err := checkDepth("page", out.PageNum, out.PageSize); err != nil {
		return nil, err
	}
	if v, ok, err := single(q, "name"); err != nil {
		return nil, err
	} else if ok {
		out.Conds = append(out.Conds, Cond{Path: shape.Name, Op: Eq, Values: []string{v}})
	}
	if v, ok, err := single(q, "fuzzyName"); err != nil {
		return nil, err
	} else if ok {
		out.Conds = append(out.Conds, Cond{Path: shape.Name, Op: Fuzzy, Values: []string{strings.ToLower(v)}})
	}
	if v, ok, err := single(q, "sortBy"); err != nil {
		return nil, err
	} else if ok && v != "SORT_BY_UNSPECIFIED" {
		s, known := shape.Sorts[v]
		if !known {
			allowed := []string{"SORT_BY_UNSPECIFIED"}
			for k := range shape.Sorts {
				allowed = append(allowed, k)
			}
			sort.Strings(allowed[1:])
			return nil, invalid("sortBy", "must be one of %s, got %q", strings.Join(allowed, ", "), v)
		}
		out.SortPath, out.SortFunc = s.Path, s.Func
	}
	switch v, _, err := single(q, "sortDir"); {
	case err != nil:
		return nil, err
	case v == "" || strings.EqualFold(v, "desc"):
	case strings.EqualFold(v, "asc"):
		out.Desc = false
	default:
		return nil, invalid("sortDir", "must be asc or desc, got %q", v)
	}
	return out, nil
}
