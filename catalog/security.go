package catalog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// checkSecurity warns when the operation needs credentials toll does not
// send (x402 needs none): no alternative of its security requirements is
// met by the configured credentials.
func (b *builder) checkSecurity(p *pending, op *openapi3.Operation) {
	reqs := b.doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	if len(reqs) == 0 {
		return
	}
	var names []string
	for _, r := range reqs {
		met := true
		for name := range r {
			if !b.schemeMet(name) {
				met = false
				if !slices.Contains(names, clip(name)) {
					names = append(names, clip(name))
				}
			}
		}
		if met {
			return // one alternative needs nothing more
		}
	}
	slices.Sort(names)
	p.notes = append(p.notes, fmt.Sprintf("needs credentials (%s) that toll does not send; calls may be refused (add them under credentials in the config)", strings.Join(names, ", ")))
}

// schemeMet reports whether a configured credential supplies the named
// security scheme: an API key in the same place, or an Authorization header
// for HTTP, OAuth 2 and OpenID Connect schemes.
func (b *builder) schemeMet(name string) bool {
	if len(b.opts.Credentials) == 0 || b.doc.Components == nil {
		return false
	}
	ref := b.doc.Components.SecuritySchemes[name]
	if ref == nil || ref.Value == nil {
		return false
	}
	s := ref.Value
	for _, c := range b.opts.Credentials {
		switch s.Type {
		case "apiKey":
			if c.In == s.In && (c.Name == s.Name || (c.In == "header" && strings.EqualFold(c.Name, s.Name))) {
				return true
			}
		case "http", "oauth2", "openIdConnect":
			if c.In == "header" && strings.EqualFold(c.Name, "Authorization") {
				return true
			}
		}
	}
	return false
}
