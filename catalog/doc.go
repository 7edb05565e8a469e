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
// # Documents as they are
//
// toll validates what it uses, not the whole document, so that the specs
// users point it at load: a defect costs the operation that has it, never
// the document, and a bad schema keyword costs that keyword, each with a
// warning (toll catalog check lists them). kin-openapi's validation of the
// whole document is not run. Instead:
//   - a path key may carry a query or a fragment ("/#Action=X" in AWS's
//     specs, "/search?type=artist"): see paths.go; path parameters are
//     checked against the template, per operation;
//   - every $ref is made one kin-openapi can follow before it resolves the
//     document (refs.go, slots.go): a $ref into a schema's definitions or a
//     path is followed through a copy of its target, and one that names
//     nothing or another document is replaced by a stand-in that skips the
//     operations using it;
//   - a path item or component that does not decode is repaired, its
//     ill-typed keywords dropped (repair.go), or left out;
//   - a default that does not fit its schema, an empty enum, and a pattern
//     that Go or JavaScript cannot compile are dropped from the input
//     schema; other patterns are written as both compile them
//     (pattern.go).
//
// A YAML document is converted to JSON (yamljson.go), keeping as strings
// the scalars OpenAPI always writes as strings, and takes the JSON path.
// Only a document read with allow_external_refs goes to kin-openapi's
// loader whole, as written.
//
// # Catalog files of a Bazaar
//
// Discover reads a facilitator's discovery API, every page within bounds
// (pages, resources, bytes, time), into a catalog file: a discovery
// response that Load, LoadSource and every command that loads a spec read
// as FromDiscovery does. It is JSON:
//
//	{
//	  "x402Version": 2,
//	  "discovered": {
//	    "facilitator": "https://x402.org/facilitator",
//	    "endpoint": "GET /discovery/resources",
//	    "network": "eip155:8453",
//	    "at": "2026-03-01T12:00:00Z",
//	    "pages": 3, "read": 250, "kept": 249, "leftOut": 1,
//	    "notes": ["page 2 item 7: left out: http://… is plain http to another machine: …"]
//	  },
//	  "items": [
//	    {"resource": "https://api.example.com/forecast", "type": "http", "accepts": […], "extensions": {"bazaar": {…}}}
//	  ]
//	}
//
// items are the resources kept, one a line, exactly as the facilitator
// gave them; "discovered" says where and when they were read ("query",
// "network" and "type" are the filters, when given), and its notes become
// warnings of the API (toll catalog check lists them). A file without
// "discovered" is any discovery response. Catalog.AddDiscovered adds what
// Discover read to a catalog without a file (toll serve --discovery).
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
// x-payment-info is read in each shape public specs write it (price.go,
// price_offers.go): a price object ({"price":{"mode":"fixed","amount":..,
// "currency":"USD"}}, or dynamic with min and max), the older pricingMode
// form, "protocols" as strings or objects, network, asset and payTo at its
// top or in the x402 protocol entry, a flat offer ({"intent":"charge",
// "method":"x402","amount":..,"currency":..}) or a list of them in
// "offers", whose amounts are base units as the payment discovery draft
// writes them (cents of USD, atomic units of USDC or of a token address)
// unless written with a decimal point. A document may instead price its
// operations in info.x-payment-info.endpoints, keyed by "METHOD /path",
// with price_usdc and the map's other members as defaults. Amounts are
// exact; a malformed shape, or a price in another currency or asset than
// USD and USDC, leaves the operation unpriced with a warning.
//
// Methods other than x402 (stripe, tempo, mpp…) are listed in
// Operation.OtherMethods and in the price line (Operation.PriceLine), never
// paid: an operation offered only by them has no Price. An operation that
// declares a 402 response and advertises no price is priced at call time
// (Mode PriceAtCall, Source "402 response"): toll pays what its 402 asks
// under the per-call cap and every other rule of its policy, and not at
// all without a per-call cap.
//
// x-bazaar on an operation (price_bazaar.go) carries the schemas of its
// input and output: for an operation that declares no parameters and no
// body, the input schema gives its arguments (query parameters, or the
// body of a method that sends one), converted as every schema; the output
// schema is kept as Operation.OutputSchema.
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
//   - source.go: LoadSource: a spec file, a folder of them, or a URL (a
//     service's origin: its spec looked for where services publish one).
//   - multi.go: Catalog and LoadAll: namespaces and tool names distinct
//     across APIs.
//   - parse.go: telling the formats apart, and decoding a document with
//     kin-openapi (Swagger 2.0 converted; external $refs followed only
//     with allow_external_refs, and then only in the spec's folder).
//     yamljson.go: YAML as JSON.
//   - jsonscan.go, prune.go, decode.go: the fast path of a JSON document:
//     the scanner, dropping what toll never reads, decoding in parallel
//     part by part. refs.go and slots.go: $refs made followable. repair.go:
//     parts that do not decode repaired. paths.go: path keys, their
//     templates, queries and fragments.
//   - lazy.go: listing on demand, and building one operation when asked.
//   - refwork.go: bounding the work of resolving $refs. defs.go: $defs
//     referred to as JSON Schema does, read as components.
//   - discovery.go: x402 discovery responses (FromDiscovery). bazaar.go:
//     reading a facilitator's Bazaar into a catalog file (Discover).
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
//     price_offers.go: offers, other methods, and the document's endpoints
//     map. price_bazaar.go: x-bazaar's input and output schemas.
//   - schema.go: OpenAPI schemas to JSON Schema 2020-12; merge.go: allOf
//     merged; check.go: the input schemas compiled; pattern.go: patterns
//     both Go and JavaScript compile.
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
