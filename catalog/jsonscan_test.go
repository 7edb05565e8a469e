package catalog

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
)

// TestFastPathAgreesWithKin decodes the large spec both ways toll can: the
// fast path (pruned with the scanner, split, path items decoded in
// parallel) and kin-openapi's loader on the whole document. What toll reads
// must be the same: every operation's identity, texts, servers, security,
// x-payment-info, parameters and request body; every component schema the
// fast path keeps; and, in the end, the API built from each.
func TestFastPathAgreesWithKin(t *testing.T) {
	t.Parallel() // kin-openapi takes seconds on the whole document
	data := largeSpec()
	kind, top := sniff(data)
	if kind != kindOpenAPI || top == nil {
		t.Fatalf("sniff: kind %d, %d members: want OpenAPI JSON", kind, len(top))
	}
	if _, ok := prune(top); !ok {
		t.Fatal("the large spec is not pruned: the fast path would not be taken")
	}
	o := origin{source: "large.json"}
	fast, err := parse(t.Context(), data, kind, top, o, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLoader(t.Context(), o, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fullDoc, err := loadKin(l, data, o) // kin-openapi's loader, on the whole document
	if err != nil {
		t.Fatal(err)
	}
	full := &document{doc: fullDoc, format: fast.format, notes: fast.notes}

	fastOps, fullOps := operationsOf(t, fast.doc), operationsOf(t, full.doc)
	if len(fastOps) < 1000 {
		t.Fatalf("%d operations, want the large spec's", len(fastOps))
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(fullOps)), slices.Sorted(maps.Keys(fastOps))); diff != "" {
		t.Fatalf("operations differ (-kin +fast):\n%s", diff)
	}
	for key, want := range fullOps {
		if diff := cmp.Diff(want, fastOps[key]); diff != "" {
			t.Errorf("%s differs (-kin +fast):\n%s", key, diff)
		}
	}

	fastSchemas, fullSchemas := fast.doc.Components.Schemas, full.doc.Components.Schemas
	if len(fastSchemas) == 0 || len(fastSchemas) >= len(fullSchemas) {
		t.Errorf("%d component schemas kept of %d: want those requests reach, fewer than all", len(fastSchemas), len(fullSchemas))
	}
	for name, ref := range fastSchemas {
		if diff := cmp.Diff(marshalKin(t, fullSchemas[name]), marshalKin(t, ref)); diff != "" {
			t.Errorf("component schema %s differs (-kin +fast):\n%s", name, diff)
		}
	}

	fastAPI, err := build(t.Context(), fast, o, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fullAPI, err := build(t.Context(), full, o, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fullAPI, fastAPI, cmpMoney); diff != "" {
		t.Errorf("the APIs built differ (-kin +fast):\n%s", diff)
	}
}

// readOp is what toll reads of one operation, as JSON: references as
// they are written, and what they resolve to.
type readOp struct {
	OperationID, Summary, Description string
	Tags                              []string
	Deprecated                        bool
	Servers, Security, PaymentInfo    string
	Params                            []string
	Body                              string
}

// operationsOf returns what toll reads of each operation of doc, by
// "METHOD path". Examples are left out: the fast path drops them, and toll
// never reads them.
func operationsOf(t *testing.T, doc *openapi3.T) map[string]readOp {
	t.Helper()
	out := make(map[string]readOp)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			r := readOp{
				OperationID: op.OperationID, Summary: op.Summary, Description: op.Description, Tags: op.Tags, Deprecated: op.Deprecated,
				Servers: marshalKin(t, op.Servers) + marshalKin(t, item.Servers), Security: marshalKin(t, op.Security),
				PaymentInfo: marshalKin(t, op.Extensions["x-payment-info"]),
			}
			for _, ref := range append(slices.Clone(item.Parameters), op.Parameters...) {
				p := *ref.Value
				p.Example, p.Examples, p.Content = nil, nil, withoutExamples(p.Content)
				r.Params = append(r.Params, ref.Ref+" "+marshalKin(t, &p))
			}
			if rb := op.RequestBody; rb != nil {
				b := *rb.Value
				b.Content = withoutExamples(b.Content)
				r.Body = rb.Ref + " " + marshalKin(t, &b)
			}
			out[method+" "+path] = r
		}
	}
	return out
}

func withoutExamples(c openapi3.Content) openapi3.Content {
	if c == nil {
		return nil
	}
	out := make(openapi3.Content, len(c))
	for k, v := range c {
		m := *v
		m.Example, m.Examples = nil, nil
		out[k] = &m
	}
	return out
}

// marshalKin writes a kin-openapi value as JSON: a $ref as the reference,
// not what it resolves to.
func marshalKin(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// BenchmarkJSONScan compares the scanner with encoding/json on the large
// spec (about 9 MB): splitting the top level into its members (what sniff
// does), and the fast path's work before kin-openapi decodes (sniff and
// prune), against encoding/json splitting the top level
// (map[string]json.RawMessage) and decoding the whole document (any).
//
//	go test ./catalog -run '^$' -bench BenchmarkJSONScan -benchmem -count 5
func BenchmarkJSONScan(b *testing.B) {
	data := largeSpec()
	b.Run("scanner-split", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			n := 0
			if err := members(data, func(string, []byte) error { n++; return nil }); err != nil || n == 0 {
				b.Fatal(err, n)
			}
		}
	})
	b.Run("scanner-prune", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			_, top := sniff(data)
			if _, ok := prune(top); !ok {
				b.Fatal("not pruned")
			}
		}
	})
	b.Run("json-split", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json-decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
