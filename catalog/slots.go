package catalog

// The places of an OpenAPI 3 document that take a component other than a
// schema (slots): where a $ref there must name a component of that kind.

// slotFunc is called with each $ref in a slot of kind. For a path item,
// a change returns the path item's new JSON (nil leaves it out); for the
// others, the JSON string of the $ref to write. change false keeps it.
type slotFunc func(kind, ref string) (value []byte, change bool)

// walkSlots calls fn with every $ref in a slot of the document, and
// returns the document with the changes fn asks for.
func walkSlots(top []member, fn slotFunc) []member {
	w := slotWalker{fn: fn}
	out := make([]member, len(top))
	for i, m := range top {
		out[i] = m
		switch m.name {
		case "paths":
			out[i].value = w.each(m.value, w.pathItem)
		case "components":
			out[i].value = w.each(m.value, w.components)
		}
	}
	return out
}

type slotWalker struct{ fn slotFunc }

// each rewrites every member of a JSON object with fn, which returns the
// value it was given when it changes nothing, and nil to leave a member
// out; each returns data itself when it is not an object or nothing
// changed.
func (w slotWalker) each(data []byte, fn func(name string, value []byte) []byte) []byte {
	if !isObject(data) {
		return data
	}
	changed := false
	out, err := rewriteObject(data, func(name string, value []byte) ([]byte, error) {
		v := fn(name, value)
		changed = changed || v == nil || len(v) != len(value) || (len(v) > 0 && &v[0] != &value[0])
		return v, nil
	})
	if err != nil || !changed {
		return data
	}
	return out
}

// list rewrites every element of a JSON array with fn.
func (w slotWalker) list(data []byte, fn func(value []byte) []byte) []byte {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return data
	}
	var out []byte
	out = append(out, '[')
	n := 0
	err := elements(data, func(v []byte) error {
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, fn(v)...)
		return nil
	})
	if err != nil {
		return data
	}
	return append(out, ']')
}

// slot handles one value of a slot of kind: a $ref there goes to fn, and
// what is not a $ref is walked with inner (nil: nothing inside).
func (w slotWalker) slot(value []byte, kind string, inner func([]byte) []byte) []byte {
	ref, ok := refOf(value)
	if !ok {
		if inner == nil {
			return value
		}
		return inner(value)
	}
	v, change := w.fn(kind, ref)
	switch {
	case !change:
		return value
	case kind == "pathItems":
		return v
	}
	return w.each(value, func(name string, old []byte) []byte {
		if name == "$ref" {
			return v
		}
		return old
	})
}

// refOf returns the $ref of a JSON object, if it has one.
func refOf(data []byte) (string, bool) {
	if !isObject(data) {
		return "", false
	}
	var ref string
	found := false
	_ = members(data, func(name string, value []byte) error {
		if name == "$ref" {
			if s, err := jsonString(value); err == nil {
				ref, found = s, true
			}
		}
		return nil
	})
	return ref, found
}

func (w slotWalker) pathItem(_ string, value []byte) []byte {
	return w.slot(value, "pathItems", func(item []byte) []byte {
		return w.each(item, func(key string, v []byte) []byte {
			switch {
			case key == "parameters":
				return w.parameters(v)
			case httpMethodKeys[key]:
				return w.operation(v)
			case key == "additionalOperations":
				return w.each(v, func(_ string, op []byte) []byte { return w.operation(op) })
			}
			return v
		})
	})
}

func (w slotWalker) operation(data []byte) []byte {
	return w.each(data, func(key string, v []byte) []byte {
		switch key {
		case "parameters":
			return w.parameters(v)
		case "requestBody":
			return w.slot(v, "requestBodies", w.withContent)
		case "responses":
			return w.each(v, func(_ string, r []byte) []byte { return w.slot(r, "responses", w.response) })
		case "callbacks":
			return w.each(v, func(_ string, c []byte) []byte { return w.slot(c, "callbacks", nil) })
		}
		return v
	})
}

func (w slotWalker) parameters(data []byte) []byte {
	return w.list(data, func(v []byte) []byte { return w.slot(v, "parameters", w.parameter) })
}

// parameter walks a parameter's (or a header's) examples and content.
func (w slotWalker) parameter(data []byte) []byte {
	return w.each(data, func(key string, v []byte) []byte {
		switch key {
		case "examples":
			return w.examples(v)
		case "content":
			return w.content(v)
		}
		return v
	})
}

func (w slotWalker) examples(data []byte) []byte {
	return w.each(data, func(_ string, e []byte) []byte { return w.slot(e, "examples", nil) })
}

// withContent walks the content of a request body.
func (w slotWalker) withContent(data []byte) []byte {
	return w.each(data, func(key string, v []byte) []byte {
		if key == "content" {
			return w.content(v)
		}
		return v
	})
}

// content walks the media types of a content object: their examples and
// the headers of their encodings.
func (w slotWalker) content(data []byte) []byte {
	return w.each(data, func(_ string, media []byte) []byte {
		return w.each(media, func(key string, v []byte) []byte {
			switch key {
			case "examples":
				return w.examples(v)
			case "encoding":
				return w.each(v, func(_ string, enc []byte) []byte {
					return w.each(enc, func(k string, hv []byte) []byte {
						if k == "headers" {
							return w.headers(hv)
						}
						return hv
					})
				})
			}
			return v
		})
	})
}

func (w slotWalker) headers(data []byte) []byte {
	return w.each(data, func(_ string, h []byte) []byte { return w.slot(h, "headers", w.parameter) })
}

// response walks a response's headers, content and links.
func (w slotWalker) response(data []byte) []byte {
	return w.each(data, func(key string, v []byte) []byte {
		switch key {
		case "headers":
			return w.headers(v)
		case "content":
			return w.content(v)
		case "links":
			return w.each(v, func(_ string, l []byte) []byte { return w.slot(l, "links", nil) })
		}
		return v
	})
}

// components walks the components of the kinds that are slots.
func (w slotWalker) components(kind string, entries []byte) []byte {
	var inner func([]byte) []byte
	switch kind {
	case "parameters", "headers":
		inner = w.parameter
	case "requestBodies":
		inner = w.withContent
	case "responses":
		inner = w.response
	case "examples", "links", "callbacks":
	default:
		return entries
	}
	return w.each(entries, func(_ string, e []byte) []byte { return w.slot(e, kind, inner) })
}
