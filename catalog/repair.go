package catalog

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// A part of a document that kin-openapi cannot decode (a path item, a
// component) is decoded as plain JSON and repaired: every keyword whose
// value has the wrong type for its place (a number for a pattern, a string
// for minLength, an object for required) is dropped, with a note, and the
// part is decoded again. The walk follows the places of OpenAPI 3 where
// schemas are: parameters, request bodies, media types, responses and
// headers, and a schema's own subschemas.

// keywordKind is the JSON type a schema keyword takes.
type keywordKind int

const (
	kString keywordKind = iota
	kCount              // a non-negative integer
	kNumber
	kNumberOrBool // exclusiveMinimum and exclusiveMaximum: 3.0 booleans, 3.1 numbers
	kBool
	kStrings    // an array of strings
	kTypeList   // a string or an array of strings
	kArray      // any array
	kSchema     // a schema: an object, or a boolean in 3.1
	kSchemaList // an array of schemas
	kSchemaMap  // an object of schemas
	kObject     // any object
	kStringsMap // an object of arrays of strings
)

var keywordTypes = map[string]keywordKind{
	"title": kString, "description": kString, "format": kString, "pattern": kString,
	"$ref": kString, "contentMediaType": kString, "contentEncoding": kString, "$comment": kString,
	"minLength": kCount, "maxLength": kCount, "minItems": kCount, "maxItems": kCount,
	"minProperties": kCount, "maxProperties": kCount, "minContains": kCount, "maxContains": kCount,
	"minimum": kNumber, "maximum": kNumber, "multipleOf": kNumber,
	"exclusiveMinimum": kNumberOrBool, "exclusiveMaximum": kNumberOrBool,
	"nullable": kBool, "readOnly": kBool, "writeOnly": kBool, "deprecated": kBool, "uniqueItems": kBool,
	"required": kStrings, "type": kTypeList, "enum": kArray,
	"items": kSchema, "additionalProperties": kSchema, "not": kSchema, "contains": kSchema,
	"propertyNames": kSchema, "if": kSchema, "then": kSchema, "else": kSchema,
	"unevaluatedItems": kSchema, "unevaluatedProperties": kSchema,
	"allOf": kSchemaList, "anyOf": kSchemaList, "oneOf": kSchemaList, "prefixItems": kSchemaList,
	"properties": kSchemaMap, "patternProperties": kSchemaMap, "dependentSchemas": kSchemaMap,
	"$defs": kSchemaMap, "definitions": kSchemaMap,
	"discriminator": kObject, "xml": kObject, "externalDocs": kObject,
	"dependentRequired": kStringsMap,
}

// repairSchemaPart repairs a component schema.
func repairSchemaPart(v any, notes *[]string) any { return repairSchema(v, notes, 0) }

// repairSchema drops the keywords of a schema whose values have the wrong
// type, and repairs its subschemas.
func repairSchema(v any, notes *[]string, depth int) any {
	m, ok := v.(map[string]any)
	if !ok || depth > maxSchemaDepth*4 {
		return v
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		kind, known := keywordTypes[k]
		if !known {
			continue
		}
		val := m[k]
		if !fits(val, kind) {
			delete(m, k)
			*notes = append(*notes, fmt.Sprintf("schema keyword %s dropped: %s is not %s", k, jsonKind(val), kindWords[kind]))
			continue
		}
		switch kind {
		case kSchema:
			m[k] = repairSchema(val, notes, depth+1)
		case kSchemaList:
			for i, s := range val.([]any) {
				val.([]any)[i] = repairSchema(s, notes, depth+1)
			}
		case kSchemaMap:
			for name, s := range val.(map[string]any) {
				val.(map[string]any)[name] = repairSchema(s, notes, depth+1)
			}
		}
	}
	return m
}

var kindWords = map[keywordKind]string{
	kString: "a string", kCount: "a non-negative integer", kNumber: "a number",
	kNumberOrBool: "a number or a boolean", kBool: "a boolean", kStrings: "an array of strings",
	kTypeList: "a type name or an array of them", kArray: "an array", kSchema: "a schema",
	kSchemaList: "an array of schemas", kSchemaMap: "an object of schemas", kObject: "an object",
	kStringsMap: "an object of arrays of strings",
}

// fits reports whether a keyword's value has the type its kind takes.
func fits(v any, kind keywordKind) bool {
	switch kind {
	case kString:
		_, ok := v.(string)
		return ok
	case kCount:
		f, ok := v.(float64)
		return ok && f >= 0 && f == math.Trunc(f) && f <= math.MaxInt32
	case kNumber:
		_, ok := v.(float64)
		return ok
	case kNumberOrBool:
		_, isNum := v.(float64)
		_, isBool := v.(bool)
		return isNum || isBool
	case kBool:
		_, ok := v.(bool)
		return ok
	case kStrings:
		return allStrings(v)
	case kTypeList:
		_, ok := v.(string)
		return ok || allStrings(v)
	case kArray, kSchemaList:
		_, ok := v.([]any)
		return ok
	case kSchema:
		_, isObj := v.(map[string]any)
		_, isBool := v.(bool)
		return isObj || isBool
	case kSchemaMap, kObject:
		_, ok := v.(map[string]any)
		return ok
	case kStringsMap:
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for _, e := range m {
			if !allStrings(e) {
				return false
			}
		}
		return true
	}
	return false
}

func allStrings(v any) bool {
	list, ok := v.([]any)
	if !ok {
		return false
	}
	for _, e := range list {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

// jsonKind names a decoded value for a note: a scalar with its value, else
// its kind (kindOf).
func jsonKind(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", clip(x))
	case float64, json.Number:
		return fmt.Sprintf("the number %v", x)
	case bool:
		return fmt.Sprintf("%v", x)
	}
	return kindOf(v)
}

// parameterFields are the fields of a parameter (and a header) other than
// its schema and content, with the types they take.
var parameterFields = map[string]keywordKind{
	"name": kString, "in": kString, "description": kString, "style": kString,
	"required": kBool, "deprecated": kBool, "allowEmptyValue": kBool, "explode": kBool, "allowReserved": kBool,
}

// repairParameter repairs a parameter or a header: its fields, its schema
// and its content.
func repairParameter(v any, notes *[]string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	repairFields(m, parameterFields, "parameter", notes)
	if s, ok := m["schema"]; ok {
		m["schema"] = repairSchema(s, notes, 0)
	}
	repairContent(m, notes)
	return m
}

// repairFields drops the fields of an object whose values have the wrong
// type.
func repairFields(m map[string]any, fields map[string]keywordKind, what string, notes *[]string) {
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		if kind, ok := fields[k]; ok && !fits(m[k], kind) {
			*notes = append(*notes, fmt.Sprintf("%s field %s dropped: %s is not %s", what, k, jsonKind(m[k]), kindWords[kind]))
			delete(m, k)
		}
	}
}

// repairContent repairs the schemas of the media types of m's content.
func repairContent(m map[string]any, notes *[]string) {
	content, ok := m["content"].(map[string]any)
	if !ok {
		return
	}
	for _, media := range content {
		if mt, ok := media.(map[string]any); ok {
			if s, ok := mt["schema"]; ok {
				mt["schema"] = repairSchema(s, notes, 0)
			}
		}
	}
}

// repairRequestBody repairs a request body's media types.
func repairRequestBody(v any, notes *[]string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	repairFields(m, map[string]keywordKind{"description": kString, "required": kBool}, "request body", notes)
	repairContent(m, notes)
	return m
}

// operationFields are the fields of an operation whose types decide
// whether it decodes, other than its parameters and request body.
var operationFields = map[string]keywordKind{
	"operationId": kString, "summary": kString, "description": kString,
	"deprecated": kBool, "tags": kStrings, "servers": kArray, "security": kArray, "responses": kObject, "parameters": kArray,
}

// repairPathItem repairs a path item: its parameters and its operations.
func repairPathItem(v any, notes *[]string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	repairFields(m, map[string]keywordKind{"summary": kString, "description": kString, "servers": kArray, "parameters": kArray}, "path item", notes)
	repairParameters(m, notes)
	for k, op := range m {
		if httpMethodKeys[k] {
			m[k] = repairOperation(op, notes)
		}
	}
	if more, ok := m["additionalOperations"].(map[string]any); ok {
		for k, op := range more {
			more[k] = repairOperation(op, notes)
		}
	}
	return m
}

func repairOperation(v any, notes *[]string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	repairFields(m, operationFields, "operation", notes)
	repairParameters(m, notes)
	if rb, ok := m["requestBody"]; ok {
		m["requestBody"] = repairRequestBody(rb, notes)
	}
	if responses, ok := m["responses"].(map[string]any); ok {
		for code, r := range responses {
			if rm, ok := r.(map[string]any); ok {
				repairFields(rm, map[string]keywordKind{"description": kString}, "response", notes)
				repairContent(rm, notes)
				responses[code] = rm
			}
		}
	}
	return m
}

// repairParameters repairs each parameter of m's parameters.
func repairParameters(m map[string]any, notes *[]string) {
	if list, ok := m["parameters"].([]any); ok {
		for i, p := range list {
			list[i] = repairParameter(p, notes)
		}
	}
}
