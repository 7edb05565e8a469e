// Package catalog reads API descriptions and describes each operation as a
// tool: a name, a sanitized description, where and how to send the request,
// a JSON Schema of the arguments, and the price the API advertises.
//
// It is toll's only user of kin-openapi, and knows nothing of MCP, wallets
// or ledgers. Everything in a document is untrusted: text a model will read
// is stripped of control, bidi and invisible characters and capped; no
// external $ref is followed unless the config allows it, and then only to
// files beside the spec; a malformed price leaves an operation without a
// price (so toll will not pay for it) and a warning, never a crash.
//
// # What the model reads
//
// A tool's description (Operation.ToolDescription) ends with toll's price
// line, and no other line of it states a price: lines of spec text that do
// are removed, also when disguised (fullwidth or look-alike letters,
// Markdown, "P r i c e"), so a spec cannot forge or contradict toll's line.
// Text that reads like instructions to the model ("ignore previous
// instructions", role markers, directives to call tools) or that states a
// price inside a sentence is kept and reported as a warning on its
// operation. A priced operation whose server is plain http to another
// machine is reported too: toll refuses to pay it there unless the API's
// entry sets allow_insecure_http (InsecureHTTP). BuiltinTool names toll's
// own tools, which no operation may be named as.
//
// # Sources and formats
//
// LoadSource reads a spec file, a folder of them, or a URL (https, or http
// to this machine only), and LoadAll several at once, each with its own
// Options (SourceConfig is an API's entry in toll.yaml, with the YAML keys
// documented there). A document is OpenAPI 3.0 or 3.1, Swagger 2.0
// (converted to OpenAPI 3.0 with kin-openapi's openapi2conv, and a warning
// says so), or an x402 discovery response (FromDiscovery), in JSON or YAML.
// Load and LoadFile read one document.
//
// # Prices
//
// An operation's price comes from, in order of precedence: the config's
// prices (Options.Prices, Source "config"), a probe of the operation's own
// 402 response (Options.Probes, "probe"), the spec's x-payment-info
// ("x-payment-info"), or a discovery entry's payment requirements
// ("discovery"). A config price sets the amount; the network, recipient and
// asset stay those the probe or spec pinned.
//
// # Input schemas
//
// An operation's input schema is one object holding its parameters and its
// body (the argument "body"), each converted to JSON Schema 2020-12 with
// every $ref inlined (schema.go). An allOf is merged into the schema that
// holds it wherever the merged schema accepts exactly the same values: the
// union of properties and required, types intersected, bounds tightened
// (merge.go lists the rules). What cannot be merged exactly stays in an
// allOf below the root; where the parts have no type in common, or
// additionalProperties: false in one part forbids a property another part
// lists (as JSON Schema reads an allOf), a warning says so. oneOf becomes
// anyOf, and a 3.0 nullable becomes a null type, or an anyOf with null.
//
// # Large specs
//
// A JSON document takes a fast path: a scanner splits it without decoding,
// the parts toll never reads (responses, examples, callbacks, webhooks,
// extensions, component schemas no request reaches) are dropped, and
// kin-openapi decodes the rest, path items on every CPU. Operations are
// built in parallel, and their input schemas are compiled once per distinct
// subschema shape (see check.go). GitHub's REST API (about 1,000
// operations, 10 MB) loads in well under a second. Before kin-openapi
// resolves a document's $refs, toll bounds the work that will take
// (refwork.go): a document built to be slow to resolve is refused.
//
// # Loading on demand
//
// With Options.OnDemand (toll serve --lazy on) a JSON OpenAPI 3 document is
// listed from a light read: of each operation only what its name, title,
// description and price come from, without parameters, bodies or schemas,
// and the document is not kept. Operation.Complete builds an operation when
// it is described or called, from the document read again and narrowed to
// that operation and what it refers to, exactly as a full load builds it;
// the $ref work is then bounded per operation built (lazy.go). Microsoft
// Graph beta (22,361 operations, 47 MB) lists in about 0.3 s, and all of
// APIs.guru's directory (2,600 specs, 115,000 operations) in under 2 s.
//
// # Invariants
//
// Of a loaded API:
//   - Operations are sorted by path, then method (discovery: by URL); tool
//     names match ^[a-zA-Z0-9_-]+$, have at most 48 characters, are unique
//     (across a Catalog too), and do not depend on the order of the
//     operations in the document.
//   - Each InputSchema (of an operation listed on demand: once Complete
//     has built it) is a JSON Schema 2020-12 object schema with no $ref
//     and no combinator at its root, that compiles with the validator the
//     MCP layer uses; it has no argument for a configured credential.
//   - Prices are money.Amount values (atomic units and decimals), parsed
//     exactly from decimal strings; no float is used for money.
//   - Nothing is dropped without a line in API.Warnings: operations left
//     out by include/exclude filters, or skipped, are listed there.
//
// # Files
//
// Reading documents:
//   - catalog.go: the types a caller reads (Options, API, Operation,
//     Param, Body), Load and LoadFile.
//   - config.go: SourceConfig (an API's entry in toll.yaml), Credential,
//     Filter, ProbedPrice, and the checks of the options.
//   - source.go: LoadSource: a spec file, a folder of them, or a URL.
//   - multi.go: Catalog and LoadAll: namespaces and tool names distinct
//     across APIs.
//   - parse.go: telling the formats apart, and decoding and validating a
//     document with kin-openapi (Swagger 2.0 converted; external $refs
//     refused, or read from the spec's folder only).
//   - jsonscan.go, prune.go, decode.go: the fast path of a JSON document:
//     the scanner, dropping what toll never reads, decoding in parallel.
//   - lazy.go: listing on demand, and building one operation when asked.
//   - refwork.go: bounding the work of resolving $refs. defs.go: $defs
//     referred to as JSON Schema does, read as components.
//   - discovery.go: x402 discovery responses (FromDiscovery).
//
// Building tools:
//   - build.go: the builder: from a document to an API, the operations
//     built in parallel, filters and warnings.
//   - operation.go: one operation: title, description, server, request
//     body and input schema. parameters.go: its parameters, their order
//     and argument names, and the credentials that stand for some.
//     security.go: security requirements toll's credentials do not meet.
//     encoding.go: parameter styles and body media types.
//   - names.go: tool names and namespaces, and the names of toll's own
//     tools.
//   - price.go: Price, x-payment-info, and choosing an operation's price.
//   - schema.go: OpenAPI schemas to JSON Schema 2020-12; merge.go: allOf
//     merged; check.go: the input schemas compiled.
//   - sanitize.go: cleaning and capping untrusted text. modeltext.go: the
//     tool description and its price line, price lines removed, and text
//     aimed at the model flagged. parallel.go: the one helper that fans
//     work out over the CPUs. errors.go: the errors callers can test for.
//
// Example:
//
//	cat, errs := catalog.LoadAll(ctx, []catalog.SourceConfig{
//		{Spec: "specs/weather.yaml", Options: catalog.Options{Namespace: "wx"}},
//		{Spec: "https://api.example.com/openapi.json"},
//	})
//	for _, err := range errs {
//		log.Print(err) // "load specs/weather.yaml: invalid OpenAPI document: …"
//	}
//	for _, op := range cat.Operations() {
//		fmt.Println(op.Name, op.Price.Display())
//	}
package catalog
