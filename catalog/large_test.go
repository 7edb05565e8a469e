package catalog

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
)

// The large spec: a deterministic document the size and shape of GitHub's
// REST API description (about 1,000 operations and 10 MB of JSON): shared
// parameters, responses and examples behind $ref, hundreds of component
// schemas referring to each other (allOf compositions, oneOf variants,
// nullable references, self-references), long Markdown descriptions, big
// response examples, and x-payment-info on some operations. It is generated
// here rather than checked in to keep the repository small.

// Its shape: largePaths path items holding about two operations each;
// largeSchemas component schemas, of which the first largeHubs are the
// small ones everything refers to (GitHub's simple-user, license,
// reactions…) and the others response objects built on them.
const (
	largePaths    = 520
	largeSchemas  = 700
	largeHubs     = 60
	largeExamples = 520
)

// Where a property is, which decides what it may refer to.
const (
	inHub = iota
	inResponse
	inBody
)

var largeSpecOnce = sync.OnceValue(func() []byte {
	data, err := json.Marshal(generateLargeSpec(rand.New(rand.NewPCG(402, 2026))))
	if err != nil {
		panic(err)
	}
	return data
})

// largeSpec returns the large spec as JSON; every call returns the same bytes.
func largeSpec() []byte { return largeSpecOnce() }

var largeWords = strings.Fields(`repository issue pull request commit branch tag release
asset workflow run job step artifact cache secret variable environment deployment status check
suite annotation comment review reaction label milestone project column card team member
organization user follower gist key hook delivery installation app token permission scope
package version container registry alert advisory dependency graph manifest license code
search result page cursor limit rate reset header request response body field value default
required optional deprecated preview merge rebase squash conflict protected rule ruleset bypass
actor target ref sha tree blob file path content encoding size mode type url html api node
event payload action created updated deleted archived public private internal visibility topic
language stargazer watcher fork network activity notification thread subscription discussion
category answer poll vote sponsor tier invoice billing usage minute storage runner group label
codespace machine devcontainer secret dependabot autolink pages build domain certificate
the a an of to for with from by on in at when if and or not only all each every new old`)

// words writes n pseudo-random words.
func words(r *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = largeWords[r.IntN(len(largeWords))]
	}
	return strings.Join(w, " ")
}

// markdown writes a description of a few paragraphs, with the links, code
// and lists GitHub's descriptions have.
func markdown(r *rand.Rand, paragraphs int) string {
	var b strings.Builder
	for p := range paragraphs {
		if p > 0 {
			b.WriteString("\n\n")
		}
		switch r.IntN(4) {
		case 0:
			fmt.Fprintf(&b, "%s. See \"[%s](https://docs.example.com/rest/%s)\" for more.", capitalize(words(r, 20+r.IntN(30))), words(r, 3), strings.ReplaceAll(words(r, 2), " ", "-"))
		case 1:
			fmt.Fprintf(&b, "- `%s`: %s\n- `%s`: %s", strings.ReplaceAll(words(r, 2), " ", "_"), words(r, 12), strings.ReplaceAll(words(r, 2), " ", "_"), words(r, 15))
		case 2:
			fmt.Fprintf(&b, "> [!NOTE]\n> %s.", capitalize(words(r, 25)))
		default:
			fmt.Fprintf(&b, "%s.", capitalize(words(r, 30+r.IntN(40))))
		}
	}
	return b.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func ref(kind, name string) map[string]any {
	return map[string]any{"$ref": "#/components/" + kind + "/" + name}
}

func schemaName(i int) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(words(rand.New(rand.NewPCG(uint64(i), 7)), 2), " ", "-"), i)
}

// property writes one property schema of component schema i, or of a
// request body.
func property(r *rand.Rand, i, where int) any {
	desc := capitalize(words(r, 8+r.IntN(30))) + "."
	switch k := r.IntN(20); {
	case k < 5:
		s := map[string]any{"type": "string", "description": desc}
		switch r.IntN(5) {
		case 0:
			s["format"] = "date-time"
		case 1:
			s["format"] = "uri"
		case 2:
			s["enum"] = []any{"open", "closed", "all", "draft"}
		case 3:
			s["pattern"] = "^[a-z0-9-]+$"
			s["maxLength"] = 100
		}
		if r.IntN(5) == 0 {
			s["nullable"] = true
		}
		s["example"] = words(r, 2)
		return s
	case k < 8:
		return map[string]any{"type": "integer", "minimum": 0, "description": desc, "example": r.IntN(1000)}
	case k < 10:
		return map[string]any{"type": "boolean", "description": desc, "default": r.IntN(2) == 0}
	case k < 11:
		return map[string]any{"type": "number", "format": "double", "exclusiveMinimum": true, "minimum": 0}
	case k < 13:
		return map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": desc, "maxItems": 100}
	case k < 16 && refers(r, i, where):
		// A reference to an earlier schema, sometimes nullable the 3.0 way:
		// mostly to a hub, now and then to another response object.
		target := ref("schemas", schemaName(r.IntN(min(i, largeHubs))))
		if where == inResponse && i > largeHubs && r.IntN(5) == 0 {
			target = ref("schemas", schemaName(largeHubs+r.IntN(i-largeHubs)))
		}
		switch r.IntN(3) {
		case 0:
			return map[string]any{"allOf": []any{target}, "nullable": true, "description": desc}
		case 1:
			return map[string]any{"type": "array", "items": target}
		}
		return target
	case k < 17 && where != inHub:
		return ref("schemas", "simple-user")
	case k < 18:
		return map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "description": desc}
	default:
		return map[string]any{
			"type":        "object",
			"description": desc,
			"properties": map[string]any{
				"name":  map[string]any{"type": "string"},
				"count": map[string]any{"type": "integer"},
				"url":   map[string]any{"type": "string", "format": "uri", "readOnly": true},
			},
			"required": []any{"name"},
		}
	}
}

// refers decides whether a property that could refer to another schema
// does: a hub rarely, a response object often, a request body now and then.
func refers(r *rand.Rand, i, where int) bool {
	switch where {
	case inHub:
		return i > 0 && r.IntN(3) == 0
	case inBody:
		return r.IntN(2) == 0
	}
	return i > 0
}

// componentSchema writes component schema i: an object, or an allOf
// extending an earlier schema, or a oneOf of two, or a tree referring to
// itself.
func componentSchema(r *rand.Rand, i int) map[string]any {
	props := make(map[string]any)
	var required []any
	n := 6 + r.IntN(22)
	for j := range n {
		name := fmt.Sprintf("%s_%d", strings.ReplaceAll(words(r, 1), " ", "_"), j)
		where := inResponse
		if i < largeHubs {
			where = inHub
		}
		props[name] = property(r, i, where)
		if r.IntN(3) == 0 {
			required = append(required, name)
		}
	}
	props["id"] = map[string]any{"type": "integer", "format": "int64", "example": 42}
	props["node_id"] = map[string]any{"type": "string", "example": "MDQ6VXNlcjE="}
	props["url"] = map[string]any{"type": "string", "format": "uri", "readOnly": true}
	obj := map[string]any{
		"type":        "object",
		"title":       capitalize(words(r, 3)),
		"description": markdown(r, 1),
		"properties":  props,
		"required":    append(required, "id", "node_id"),
	}
	switch {
	case i > 10 && i%10 == 3:
		// Extends a hub (or, for a response object, another one).
		base := r.IntN(min(i, largeHubs))
		if i > largeHubs && r.IntN(2) == 0 {
			base = largeHubs + r.IntN(i-largeHubs)
		}
		return map[string]any{"allOf": []any{ref("schemas", schemaName(base)), obj}, "description": obj["description"]}
	case i > 10 && i%25 == 7:
		return map[string]any{"oneOf": []any{ref("schemas", schemaName(r.IntN(min(i, largeHubs)))), ref("schemas", schemaName(r.IntN(min(i, largeHubs))))}}
	case i%40 == 11:
		props["parent"] = map[string]any{"allOf": []any{ref("schemas", schemaName(i))}, "nullable": true}
		props["children"] = map[string]any{"type": "array", "items": ref("schemas", schemaName(i))}
	}
	return obj
}

// example writes a response example of about 8 KB.
func example(r *rand.Rand) any {
	items := make([]any, 6+r.IntN(6))
	for i := range items {
		item := map[string]any{"id": r.IntN(1 << 30), "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "url": "https://api.large.example.com/" + strings.ReplaceAll(words(r, 3), " ", "/")}
		for range 12 {
			item[strings.ReplaceAll(words(r, 2), " ", "_")] = words(r, 1+r.IntN(8))
		}
		item["owner"] = map[string]any{"login": "octocat", "id": 1, "avatar_url": "https://github.example.com/images/error/octocat_happy.gif", "type": "User", "site_admin": false}
		items[i] = item
	}
	return items
}

var largeNouns = strings.Fields(`issues pulls commits branches releases assets workflows runs jobs
artifacts caches secrets variables environments deployments statuses checks comments reviews
reactions labels milestones projects columns cards teams members hooks deliveries installations
keys packages versions alerts advisories dependencies licenses pages codespaces runners topics
forks stargazers subscribers notifications threads discussions sponsors invitations rulesets`)

func generateLargeSpec(r *rand.Rand) map[string]any {
	schemas := map[string]any{
		"simple-user": map[string]any{
			"type": "object", "title": "Simple User", "description": "A GitHub-like user.",
			"properties": map[string]any{
				"login":      map[string]any{"type": "string", "example": "octocat"},
				"id":         map[string]any{"type": "integer", "format": "int64"},
				"name":       map[string]any{"type": "string", "nullable": true},
				"email":      map[string]any{"type": "string", "format": "email", "nullable": true},
				"avatar_url": map[string]any{"type": "string", "format": "uri"},
				"type":       map[string]any{"type": "string"},
				"site_admin": map[string]any{"type": "boolean"},
			},
			"required": []any{"login", "id", "avatar_url", "type", "site_admin"},
		},
		"basic-error": map[string]any{
			"type":       "object",
			"properties": map[string]any{"message": map[string]any{"type": "string"}, "documentation_url": map[string]any{"type": "string"}},
		},
	}
	for i := range largeSchemas {
		schemas[schemaName(i)] = componentSchema(r, i)
	}

	params := map[string]any{
		"owner":       map[string]any{"name": "owner", "in": "path", "required": true, "description": "The account owner of the repository. The name is not case sensitive.", "schema": map[string]any{"type": "string"}},
		"repo":        map[string]any{"name": "repo", "in": "path", "required": true, "description": "The name of the repository without the `.git` extension. The name is not case sensitive.", "schema": map[string]any{"type": "string"}},
		"per-page":    map[string]any{"name": "per_page", "in": "query", "description": "The number of results per page (max 100).", "schema": map[string]any{"type": "integer", "default": 30, "minimum": 1, "maximum": 100}},
		"page":        map[string]any{"name": "page", "in": "query", "description": "The page number of the results to fetch.", "schema": map[string]any{"type": "integer", "default": 1}},
		"since":       map[string]any{"name": "since", "in": "query", "description": "Only show results that were last updated after the given time.", "schema": map[string]any{"type": "string", "format": "date-time"}},
		"direction":   map[string]any{"name": "direction", "in": "query", "description": "The direction to sort the results by.", "schema": map[string]any{"type": "string", "enum": []any{"asc", "desc"}}},
		"api-version": map[string]any{"name": "X-Api-Version", "in": "header", "description": "The API version.", "schema": map[string]any{"type": "string", "enum": []any{"2022-11-28", "2026-03-10"}}},
	}
	for k := range 60 {
		name := fmt.Sprintf("filter-%d", k)
		params[name] = map[string]any{"name": fmt.Sprintf("%s_%d", words(r, 1), k), "in": "query", "description": capitalize(words(r, 20)) + ".", "schema": property(r, 0, inHub)}
	}

	examples := make(map[string]any)
	for k := range largeExamples {
		examples[fmt.Sprintf("example-%d", k)] = map[string]any{"summary": words(r, 4), "value": example(r)}
	}

	responses := map[string]any{
		"not_found":         map[string]any{"description": "Resource not found", "content": map[string]any{"application/json": map[string]any{"schema": ref("schemas", "basic-error")}}},
		"forbidden":         map[string]any{"description": "Forbidden", "content": map[string]any{"application/json": map[string]any{"schema": ref("schemas", "basic-error")}}},
		"validation_failed": map[string]any{"description": "Validation failed", "content": map[string]any{"application/json": map[string]any{"schema": ref("schemas", "basic-error")}}},
	}

	paths := make(map[string]any)
	ops := 0
	for p := range largePaths {
		noun := largeNouns[p%len(largeNouns)]
		var path string
		switch p % 4 {
		case 0:
			path = fmt.Sprintf("/repos/{owner}/{repo}/%s-%d", noun, p)
		case 1:
			path = fmt.Sprintf("/repos/{owner}/{repo}/%s-%d/{%s_id}", noun, p, strings.TrimSuffix(noun, "s"))
		case 2:
			path = fmt.Sprintf("/orgs/{org}/%s-%d", noun, p)
		default:
			path = fmt.Sprintf("/user/%s-%d/{id}/%s", noun, p, words(r, 1))
		}
		item := make(map[string]any)
		methods := []string{"get"}
		switch p % 5 {
		case 0, 1:
			methods = append(methods, "post")
		case 2:
			methods = append(methods, "patch", "delete")
		case 3:
			methods = append(methods, "put")
		}
		for _, m := range methods {
			ops++
			item[m] = largeOperation(r, path, m, noun, ops)
		}
		paths[path] = item
	}

	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Large Generated API",
			"version":     "1.1.4",
			"description": markdown(r, 3),
			"license":     map[string]any{"name": "MIT", "url": "https://spdx.org/licenses/MIT"},
		},
		"servers":    []any{map[string]any{"url": "https://api.large.example.com"}},
		"tags":       tagList(),
		"paths":      paths,
		"components": map[string]any{"schemas": schemas, "parameters": params, "examples": examples, "responses": responses},
		"x-github":   map[string]any{"generated": true},
	}
}

func tagList() []any {
	var tags []any
	for _, n := range largeNouns {
		tags = append(tags, map[string]any{"name": n, "description": "Operations on " + n + "."})
	}
	return tags
}

func largeOperation(r *rand.Rand, path, method, noun string, n int) map[string]any {
	var params []any
	for _, seg := range strings.Split(path, "/") {
		if !strings.HasPrefix(seg, "{") {
			continue
		}
		name := strings.Trim(seg, "{}")
		if name == "owner" || name == "repo" {
			params = append(params, ref("parameters", name))
			continue
		}
		params = append(params, map[string]any{"name": name, "in": "path", "required": true, "description": "The unique identifier of the " + name + ".", "schema": map[string]any{"type": "integer"}})
	}
	if method == "get" {
		params = append(params, ref("parameters", "per-page"), ref("parameters", "page"))
		first := r.IntN(60)
		for k := range r.IntN(4) {
			params = append(params, ref("parameters", fmt.Sprintf("filter-%d", (first+k*7)%60)))
		}
	}
	if r.IntN(10) == 0 {
		params = append(params, ref("parameters", "api-version"))
	}
	verb := map[string]string{"get": "list", "post": "create", "patch": "update", "put": "set", "delete": "delete"}[method]
	op := map[string]any{
		"operationId": fmt.Sprintf("%s/%s-%s-%d", noun, verb, strings.ReplaceAll(words(r, 2), " ", "-"), n),
		"summary":     capitalize(verb + " " + words(r, 4)),
		"description": markdown(r, 2+r.IntN(4)),
		"tags":        []any{noun},
		"parameters":  params,
		"externalDocs": map[string]any{
			"description": "API method documentation",
			"url":         "https://docs.example.com/rest/" + noun,
		},
		"x-github": map[string]any{"githubCloudOnly": false, "enabledForGitHubApps": true, "category": noun},
	}
	status := "200"
	if method == "post" {
		status = "201"
	}
	if method == "delete" {
		status = "204"
	}
	resp := map[string]any{"description": "Response"}
	if status != "204" {
		resp["content"] = map[string]any{"application/json": map[string]any{
			"schema":   ref("schemas", schemaName(r.IntN(largeSchemas))),
			"examples": map[string]any{"default": ref("examples", fmt.Sprintf("example-%d", r.IntN(largeExamples)))},
		}}
	}
	op["responses"] = map[string]any{status: resp, "404": ref("responses", "not_found"), "403": ref("responses", "forbidden")}
	if method == "post" || method == "patch" || method == "put" {
		props := make(map[string]any)
		var required []any
		for j := range 2 + r.IntN(8) {
			name := fmt.Sprintf("%s_%d", strings.ReplaceAll(words(r, 1), " ", "_"), j)
			props[name] = property(r, largeHubs, inBody)
			if r.IntN(2) == 0 {
				required = append(required, name)
			}
		}
		body := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			body["required"] = required
		}
		var schema any = body
		if r.IntN(6) == 0 {
			schema = map[string]any{"allOf": []any{ref("schemas", schemaName(r.IntN(largeHubs))), body}}
		}
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{
			"schema":  schema,
			"example": map[string]any{"name": words(r, 2)},
		}}}
	}
	if n%3 == 0 {
		op["x-payment-info"] = map[string]any{
			"price":     map[string]any{"mode": "fixed", "amount": fmt.Sprintf("0.%03d", 1+r.IntN(999)), "currency": "USD"},
			"protocols": []any{map[string]any{"x402": map[string]any{"network": "eip155:8453"}}},
		}
	}
	return op
}
