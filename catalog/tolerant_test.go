package catalog

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDefectsCostOnlyWhatHasThem: each defect real specs have (those the
// issue tracker lists, from GitHub's, Microsoft's, AWS's and APIs.guru's
// specs) costs at most the operation that has it, or the keyword, with a
// note; the document loads and its other operations are tools.
func TestDefectsCostOnlyWhatHasThem(t *testing.T) {
	doc := `{"openapi":"3.1.0","info":{"title":"","version":"1"},
"servers":[{"url":""},{"url":"https://defects.example.com"}],
"paths":{
 "/orgs/{org}/attestations/{subject_digest}":{"get":{"operationId":"byDigest","parameters":[
   {"name":"org","in":"path","required":true,"schema":{"type":"string"}},
   {"name":"subject_digest","in":"path","required":true,"schema":{"type":"string"}}],"responses":{"200":{"description":"A"}}}},
 "/orgs/{org}/attestations/{attestation_id}":{"delete":{"operationId":"byId","parameters":[
   {"name":"org","in":"path","required":true,"schema":{"type":"string"}},
   {"name":"attestation_id","in":"path","required":true,"schema":{"type":"integer","default":"100","exclusiveMinimum":true,"minimum":0}}],"responses":{"200":{"description":"A"}}}},
 "/items":{"get":{"operationId":"list","parameters":[
   {"name":"limit","in":"query","schema":{"type":"integer","default":"100","pattern":7,"maxLength":"ten"}},
   {"name":"kind","in":"query","schema":{"$ref":"#/components/schemas/Item/definitions/kind"}}],"responses":{"200":{"description":"A"}}},
  "post":{"operationId":"create","requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/Missing"}}}},"responses":{"200":{"description":"A"}}}},
 "/broken":{"get":{"operationId":"broken","parameters":"not a list","responses":{"200":{"description":"A"}}}},
 "/#Action=Describe":{"get":{"operationId":"describe","parameters":[{"name":"Action","in":"query","schema":{"type":"string","enum":["Describe"]}}],"responses":{"200":{"description":"A"}}}}
},
"components":{"schemas":{"Item":{"type":"object","definitions":{"kind":{"type":"string","enum":["a","b"]}}}}}}`
	api, err := Load(t.Context(), []byte(doc), "defects.json", Options{Namespace: "d"})
	if err != nil {
		t.Fatalf("the document was refused: %v", err)
	}
	var ids []string
	schemas := make(map[string]map[string]any)
	for _, op := range api.Operations {
		ids = append(ids, op.OperationID)
		var s map[string]any
		if err := json.Unmarshal(op.InputSchema, &s); err != nil {
			t.Fatal(err)
		}
		schemas[op.OperationID] = s["properties"].(map[string]any)
		if op.ServerURL != "https://defects.example.com" {
			t.Errorf("%s: server %q", op.OperationID, op.ServerURL)
		}
	}
	slices.Sort(ids)
	if want := []string{"broken", "byDigest", "byId", "describe", "list"}; !cmp.Equal(ids, want) {
		t.Errorf("operations %q, want %q (create, whose body's $ref names nothing, skipped)", ids, want)
	}
	wantProps := map[string]any{
		"byId.attestation_id": map[string]any{"type": "integer", "exclusiveMinimum": float64(0)},
		"list.limit":          map[string]any{"type": "integer"},
		"list.kind":           map[string]any{"type": "string", "enum": []any{"a", "b"}},
	}
	for key, want := range wantProps {
		op, arg, _ := strings.Cut(key, ".")
		if diff := cmp.Diff(want, schemas[op][arg]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", key, diff)
		}
	}
	for _, w := range []string{
		`default "100" dropped: not of the type integer`,
		`schema keyword pattern dropped: the number 7 is not a string`,
		`schema keyword maxLength dropped: the string "ten" is not a non-negative integer`,
		`$ref "#/components/schemas/Missing" names nothing in the document`,
		`POST /items: skipped: its input schema reaches the $ref "#/components/schemas/Missing", which cannot be followed`,
		`operation field parameters dropped: the string "not a list" is not an array`,
	} {
		if !hasWarning(api, w) {
			t.Errorf("no warning %q in %q", w, api.Warnings)
		}
	}
}
