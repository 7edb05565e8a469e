package catalog

import "errors"

// Errors returned by LoadFile and Load, wrapped with the source's name and
// the reason; match them with errors.Is.
var (
	// ErrInvalidSpec: the document does not parse, or is not a valid
	// OpenAPI document (kin-openapi's validation failed).
	ErrInvalidSpec = errors.New("invalid OpenAPI document")
	// ErrExternalRef: the document has a $ref to another file or URL.
	// toll reads one self-contained document and never follows such a ref.
	ErrExternalRef = errors.New("external $ref not allowed")
	// ErrUnsupportedVersion: the document is neither OpenAPI 3.x nor
	// Swagger 2.0.
	ErrUnsupportedVersion = errors.New("unsupported OpenAPI version")
	// ErrTooLarge: the document is larger than Options.MaxSpecBytes.
	ErrTooLarge = errors.New("spec too large")
	// ErrInvalidOptions: Options (an API's entry in the config) has a value
	// the catalog cannot use; the message names the key and the fix.
	ErrInvalidOptions = errors.New("invalid catalog options")
	// ErrFetch: a spec could not be read from its URL (network error,
	// HTTP status, timeout).
	ErrFetch = errors.New("fetch failed")
	// ErrURLNotAllowed: a URL toll does not fetch: not https, and not http
	// to a loopback host; or a redirect to such a URL.
	ErrURLNotAllowed = errors.New("URL not allowed")
	// ErrInvalidDiscovery: an x402 discovery response that does not decode.
	ErrInvalidDiscovery = errors.New("invalid x402 discovery response")
	// ErrNamespaceTaken: two APIs of a catalog were given the same
	// namespace.
	ErrNamespaceTaken = errors.New("namespace already used")
	// ErrNoSuchOperation: an entry's tool_caps names an operation none of
	// its APIs has.
	ErrNoSuchOperation = errors.New("no such operation")
)
