package rpc

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"time"
)

// openrpcVersion is the version of the OpenRPC specification the
// rpc.discover document follows.
const openrpcVersion = "1.2.6"

// durationPattern matches what Duration.MarshalJSON writes and
// time.ParseDuration reads back ("0", "1h2m3.5s", "300ms").
const durationPattern = `^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+)$`

// The OpenRPC document, as much of it as rpc.discover fills in.
type openrpcDocument struct {
	OpenRPC    string            `json:"openrpc"`
	Info       openrpcInfo       `json:"info"`
	Methods    []openrpcMethod   `json:"methods"`
	Components openrpcComponents `json:"components"`
}

type openrpcInfo struct {
	Title   string `json:"title"`
	Version string `json:"version"`
}

type openrpcMethod struct {
	Name           string              `json:"name"`
	Summary        string              `json:"summary,omitempty"`
	Params         []contentDescriptor `json:"params"`
	Result         contentDescriptor   `json:"result"`
	ParamStructure string              `json:"paramStructure"`
}

type contentDescriptor struct {
	Name     string `json:"name"`
	Required bool   `json:"required,omitempty"`
	Schema   schema `json:"schema"`
}

type openrpcComponents struct {
	Schemas map[string]schema `json:"schemas"`
}

// schema is a JSON Schema object; encoding/json sorts its keys, so the
// document is the same bytes every time.
type schema map[string]any

// document returns the OpenRPC document of the registry, built once.
func (r *registry) document() (json.RawMessage, error) {
	r.docOnce.Do(func() {
		r.doc, r.docErr = json.Marshal(buildDocument(r.methods(), moduleVersion()))
	})
	return r.doc, r.docErr
}

// buildDocument describes methods (sorted by name) by reflection over
// their param and result types. rpc.discover itself is left out, as the
// OpenRPC spec has it.
func buildDocument(methods []MethodInfo, version string) *openrpcDocument {
	g := &schemaGen{defs: map[string]schema{}, names: map[reflect.Type]string{}}
	doc := &openrpcDocument{
		OpenRPC: openrpcVersion,
		Info:    openrpcInfo{Title: "Meridian", Version: version},
		Methods: []openrpcMethod{},
	}
	for _, m := range methods {
		if m.Name == MethodDiscover {
			continue
		}
		om := openrpcMethod{
			Name:           m.Name,
			Summary:        m.Summary,
			Params:         []contentDescriptor{},
			Result:         contentDescriptor{Name: "result", Schema: g.schema(m.Result)},
			ParamStructure: "by-name",
		}
		for _, f := range structFields(m.Params) {
			om.Params = append(om.Params, contentDescriptor{
				Name:     f.name,
				Required: f.required(),
				Schema:   g.fieldSchema(f),
			})
		}
		doc.Methods = append(doc.Methods, om)
	}
	doc.Components.Schemas = g.defs
	return doc
}

// required: a member is required unless it may be left out.
func (f *field) required() bool {
	return !f.omitEmpty && !f.optional && f.typ.Kind() != reflect.Pointer
}

// moduleVersion is the main module's version from the build, when it has
// one.
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "0.0.0-dev"
}

// schemaGen turns Go types into JSON Schemas; named struct types go to
// defs and are referenced by $ref.
type schemaGen struct {
	defs  map[string]schema
	names map[reflect.Type]string
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	timeType          = reflect.TypeFor[time.Time]()
	numberType        = reflect.TypeFor[json.Number]()
)

func (g *schemaGen) fieldSchema(f field) schema {
	if f.quoted {
		return schema{"type": "string"}
	}
	return g.schema(f.typ)
}

func (g *schemaGen) schema(t reflect.Type) schema {
	switch {
	case t == durationType:
		return schema{"type": "string", "pattern": durationPattern,
			"description": `a Go duration such as "30s" or "1m30s"`}
	case t == rawMessageType:
		return schema{}
	case t == timeType:
		return schema{"type": "string", "format": "date-time"}
	case t == numberType:
		return schema{"type": "number"}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 &&
		!t.Implements(marshalerType) && !t.Implements(textMarshalerType):
		return schema{"type": "string", "contentEncoding": "base64"}
	case t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType):
		return schema{} // its own encoding: unknown here
	case t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType):
		return schema{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return schema{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return schema{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return schema{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return schema{"type": "number"}
	case reflect.String:
		return schema{"type": "string"}
	case reflect.Pointer:
		return schema{"anyOf": []schema{g.schema(t.Elem()), {"type": "null"}}}
	case reflect.Slice:
		return schema{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Array:
		return schema{"type": "array", "items": g.schema(t.Elem()), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		return schema{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t)
		}
		return schema{"$ref": "#/components/schemas/" + g.define(t)}
	}
	return schema{} // interfaces and what JSON cannot carry
}

// define puts the named struct type t in defs, once, and returns its name.
func (g *schemaGen) define(t reflect.Type) string {
	if name, ok := g.names[t]; ok {
		return name
	}
	name := schemaName(t.Name())
	if _, taken := g.defs[name]; taken { // same name, another type
		name = schemaName(t.PkgPath() + "." + t.Name())
		for i, base := 2, name; ; i++ {
			if _, taken := g.defs[name]; !taken {
				break
			}
			name = fmt.Sprintf("%s_%d", base, i)
		}
	}
	g.names[t] = name
	g.defs[name] = schema{} // placeholder: t may refer to itself
	g.defs[name] = g.structSchema(t)
	return name
}

func (g *schemaGen) structSchema(t reflect.Type) schema {
	props := schema{}
	required := []string{}
	for _, f := range structFields(t) {
		props[f.name] = g.fieldSchema(f)
		if f.required() {
			required = append(required, f.name)
		}
	}
	s := schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// schemaName keeps the characters a components key and a $ref pointer can
// carry as they are.
func schemaName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '_'
	}, s)
}
