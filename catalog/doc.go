// Package catalog reads OpenAPI documents and describes each operation as a
// tool: a name, a sanitized description, where and how to send the request,
// a JSON Schema of the arguments, and the price the document advertises.
//
// It is toll's only user of kin-openapi, and knows nothing of MCP, wallets
// or ledgers. Everything in a document is untrusted: text a model will read
// is stripped of control, bidi and invisible characters and capped; no
// external $ref is followed; a malformed price leaves an operation without a
// price (so toll will not pay for it) and a warning, never a crash.
//
// Invariants of a loaded API:
//   - Operations are sorted by path, then method; tool names match
//     ^[a-zA-Z0-9_-]+$, have at most 48 characters, are unique, and do not
//     depend on the order of the operations in the document.
//   - Each InputSchema is a JSON Schema 2020-12 object schema with no $ref,
//     compiled once here with the validator the MCP layer uses.
//   - Prices are exact integers in atomic units (*big.Int), parsed from
//     decimal strings with ParseAmount; no float is used for money.
//   - Nothing is dropped without a line in API.Warnings.
//
// Example:
//
//	api, err := catalog.LoadFile(ctx, "weather.yaml", catalog.Options{})
//	if err != nil {
//		return err // "load weather.yaml: invalid OpenAPI document: …"
//	}
//	for _, op := range api.Operations {
//		fmt.Println(op.Name, op.Price.Display())
//	}
package catalog
