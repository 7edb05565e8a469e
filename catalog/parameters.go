package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// params merges the path item's parameters with the operation's (which
// override those with the same name and location) and orders them by
// location: path, query, header, cookie, each in declaration order.
func (b *builder) params(p *pending, item *openapi3.PathItem, op *openapi3.Operation) []*openapi3.Parameter {
	var merged []*openapi3.Parameter
	index := make(map[string]int)
	add := func(refs openapi3.Parameters) {
		for _, ref := range refs {
			if ref == nil || ref.Value == nil {
				continue
			}
			prm := ref.Value
			key := prm.In + "\x00" + prm.Name
			if prm.In == openapi3.ParameterInHeader {
				key = prm.In + "\x00" + strings.ToLower(prm.Name)
			}
			if i, ok := index[key]; ok {
				merged[i] = prm
				continue
			}
			index[key] = len(merged)
			merged = append(merged, prm)
		}
	}
	add(item.Parameters)
	add(op.Parameters)

	kept := merged[:0]
	for _, prm := range merged {
		switch {
		case prm.Name == "" && prm.In != openapi3.ParameterInPath:
			p.notes = append(p.notes, fmt.Sprintf("a %s parameter without a name left out", clip(prm.In)))
		case locationRank(prm.In) < 0:
			p.notes = append(p.notes, fmt.Sprintf("parameter %q in %q left out: toll sends path, query, header and cookie parameters", clip(prm.Name), clip(prm.In)))
		case prm.In == openapi3.ParameterInHeader && slices.Contains(ignoredHeaders, strings.ToLower(prm.Name)):
			p.notes = append(p.notes, fmt.Sprintf("header parameter %q left out: OpenAPI says to ignore it", clip(prm.Name)))
		case (prm.In == openapi3.ParameterInHeader || prm.In == openapi3.ParameterInCookie) && !httpToken.MatchString(prm.Name):
			p.notes = append(p.notes, fmt.Sprintf("%s parameter %q left out: not a valid %s name", prm.In, clip(prm.Name), prm.In))
		default:
			kept = append(kept, prm)
		}
	}
	slices.SortStableFunc(kept, func(a, b *openapi3.Parameter) int {
		return locationRank(a.In) - locationRank(b.In)
	})
	return kept
}

// paramArguments adds the parameters as arguments, in order, but for those
// a configured credential stands for.
func (b *builder) paramArguments(p *pending, item *openapi3.PathItem, op *openapi3.Operation, conv *schemaConverter, args *arguments) error {
	o := p.op
	params, err := matchPathParams(p, o.Path, b.params(p, item, op))
	if err != nil {
		return err
	}
	for _, prm := range params {
		if c, ok := b.credential(prm); ok {
			p.credUsed = append(p.credUsed, fmt.Sprintf("%s %q (%s)", c.In, clip(c.Name), c.Env))
			continue
		}
		param := Param{Name: prm.Name, In: prm.In, Required: prm.Required || prm.In == openapi3.ParameterInPath, AllowReserved: prm.AllowReserved && prm.In == openapi3.ParameterInQuery}
		param.Style, param.Explode = serialization(prm)
		param.Arg = argFor(p, param, args.props)
		schema := prm.Schema
		if schema == nil {
			if mt, media := pickMediaType(prm.Content); media != nil {
				param.MediaType, schema = mt, media.Schema
			}
		}
		args.props[param.Arg] = describeProperty(conv, conv.convert(schema, 1), prm.Description, prm.Deprecated)
		if param.Required {
			args.required = append(args.required, param.Arg)
		}
		o.Params = append(o.Params, param)
	}
	return nil
}

// credential returns the configured credential a parameter stands for.
func (b *builder) credential(prm *openapi3.Parameter) (Credential, bool) {
	for _, c := range b.opts.Credentials {
		if c.In != prm.In {
			continue
		}
		if c.Name == prm.Name || (c.In == openapi3.ParameterInHeader && strings.EqualFold(c.Name, prm.Name)) {
			return c, true
		}
	}
	return Credential{}, false
}

// httpToken matches an HTTP token (RFC 9110), which header and cookie names
// must be.
var httpToken = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// ignoredHeaders are header parameters OpenAPI says to ignore: the client
// sets them itself.
var ignoredHeaders = []string{"accept", "content-type", "authorization"}

func locationRank(in string) int {
	switch in {
	case openapi3.ParameterInPath:
		return 0
	case openapi3.ParameterInQuery:
		return 1
	case openapi3.ParameterInHeader:
		return 2
	case openapi3.ParameterInCookie:
		return 3
	}
	return -1
}

// argFor chooses the argument name of a parameter: its own name when that is
// a valid property name not yet taken, else a cleaned name, else the
// location and the name ("header_X-Id"), numbered if need be.
func argFor(p *pending, param Param, taken map[string]any) string {
	arg := argName(param.Name)
	if _, ok := taken[arg]; !ok {
		if arg != param.Name {
			p.notes = append(p.notes, fmt.Sprintf("%s parameter %q is the argument %q", param.In, clip(param.Name), arg))
		}
		return arg
	}
	base := argName(param.In + "_" + param.Name)
	arg = base
	for k := 2; ; k++ {
		if _, ok := taken[arg]; !ok {
			break
		}
		suffix := "_" + strconv.Itoa(k)
		arg = base[:min(len(base), maxArg-len(suffix))] + suffix
	}
	p.notes = append(p.notes, fmt.Sprintf("%s parameter %q is the argument %q: its name is taken by another argument", param.In, clip(param.Name), arg))
	return arg
}

// serialization fills in OpenAPI's defaults for style and explode.
func serialization(prm *openapi3.Parameter) (string, bool) {
	style := prm.Style
	if style == "" {
		style = openapi3.SerializationSimple
		if prm.In == openapi3.ParameterInQuery || prm.In == openapi3.ParameterInCookie {
			style = openapi3.SerializationForm
		}
	}
	explode := style == openapi3.SerializationForm
	if prm.Explode != nil {
		explode = *prm.Explode
	}
	return style, explode
}
