package catalog

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPathsAsTheDocumentWritesThem: a path key may carry a fragment (AWS's
// "/#Action=X") or a query ("?type=artist", "?page={page}"); the template
// and the parameters must agree, or the operation is skipped (not the
// document), and a path parameter the template does not name is left out.
func TestPathsAsTheDocumentWritesThem(t *testing.T) {
	doc := `openapi: 3.0.3
info: {title: Paths, version: '1'}
servers: [{url: 'http://paths.example.com'}, {url: 'https://paths.example.com/v1'}]
paths:
  /#Action=DescribeThings:
    get:
      operationId: DescribeThings
      parameters:
        - {name: Action, in: query, required: true, schema: {type: string, enum: [DescribeThings]}}
      responses: {'200': {description: A}}
  /search?type=artist&page={page}:
    get:
      operationId: searchArtists
      parameters:
        - {name: page, in: query, schema: {type: integer}}
      responses: {'200': {description: A}}
  /items/{id}:
    get:
      operationId: noIdParam
      responses: {'200': {description: A}}
  /orgs/{org}:
    get:
      operationId: extraParam
      parameters:
        - {name: org, in: path, required: true, schema: {type: string}}
        - {name: team, in: path, required: true, schema: {type: string}}
        - {name: '', in: query, schema: {type: string}}
      responses: {'200': {description: A}}
  /alerts?lat={lat}:
    get:
      operationId: pathDeclared
      parameters:
        - {name: lat, in: path, required: true, schema: {type: number}}
      responses: {'200': {description: A}}
  /rides?page={p}:
    get:
      operationId: renamed
      parameters:
        - {name: p, in: query, schema: {type: integer}}
      responses: {'200': {description: A}}
`
	api, err := Load(t.Context(), []byte(doc), "paths.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		Template string
		Query    []QueryPair
		Args     []string
	}
	got := make(map[string]target)
	for _, op := range api.Operations {
		tmpl, q := op.Target()
		var args []string
		for _, p := range op.Params {
			args = append(args, p.In+":"+p.Arg)
		}
		got[op.OperationID] = target{tmpl, q, args}
		if op.ServerURL != "https://paths.example.com/v1" {
			t.Errorf("%s: server %q, want the https one", op.OperationID, op.ServerURL)
		}
	}
	want := map[string]target{
		"DescribeThings": {Template: "/", Args: []string{"query:Action"}},
		"searchArtists":  {Template: "/search", Query: []QueryPair{{"type", "artist"}}, Args: []string{"query:page"}},
		"extraParam":     {Template: "/orgs/{org}", Args: []string{"path:org"}},
		"pathDeclared":   {Template: "/alerts", Args: []string{"query:lat"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	for _, w := range []string{
		`GET /items/{id}: skipped: the path names {id}, which no path parameter describes`,
		`GET /rides?page={p}: skipped: the path's query pair "page={p}" sends the variable {p} under another name`,
		`paths_extraParam (GET /orgs/{org}): path parameter "team" left out: the path /orgs/{org} does not name it`,
		`paths_extraParam (GET /orgs/{org}): a query parameter without a name left out`,
		`paths_pathDeclared (GET /alerts?lat={lat}): path parameter "lat" is sent in the query, where the path writes it`,
	} {
		if !hasWarning(api, w) {
			t.Errorf("no warning %q in %q", w, api.Warnings)
		}
	}
}
