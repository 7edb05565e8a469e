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
	// ErrUnsupportedVersion: the document is not OpenAPI 3.x (for example
	// Swagger 2.0, which a later version will convert).
	ErrUnsupportedVersion = errors.New("unsupported OpenAPI version")
	// ErrTooLarge: the document is larger than MaxSpecBytes.
	ErrTooLarge = errors.New("spec too large")
	// ErrInvalidOptions: Options has a value Load cannot use.
	ErrInvalidOptions = errors.New("invalid catalog options")
	// ErrInvalidAmount: ParseAmount was given something other than a plain
	// non-negative decimal string the asset's decimals can carry.
	ErrInvalidAmount = errors.New("invalid amount")
)
