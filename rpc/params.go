package rpc

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// decodeParams decodes the raw params of a call into p, a pointer to a
// struct of type t. Absent or null params leave p at its zero value. The
// decoding is strict: an unknown field, at any depth, is an error. On
// failure, the error (ErrInvalidParams) names the field at fault; finding
// it re-reads the params, which costs nothing on the success path.
//
// json.Unmarshal does the decoding; a walk over the raw params guided by
// the type's cached shape finds unknown fields. That is cheaper than a
// json.Decoder with DisallowUnknownFields, which allocates and copies.
func decodeParams(raw []byte, p any, t reflect.Type) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] != '{' {
		return InvalidParams("params must be an object")
	}
	err := json.Unmarshal(raw, p)
	if err == nil && !hasUnknown(raw, shapeOf(t)) {
		return nil
	}
	if msg := explain(raw, t, ""); msg != "" {
		return InvalidParams("%s", msg)
	}
	if err == nil { // cannot happen: hasUnknown and explain agree
		return InvalidParams("unknown field")
	}
	return InvalidParams("%s", strings.TrimPrefix(err.Error(), "json: "))
}

// shape is what hasUnknown needs of a type: the member names of structs,
// down to every struct the type holds. A nil *shape has nothing to check.
type shape struct {
	fields map[string]*shape // a struct's members; nil for slices and maps
	elem   *shape            // the element of a slice, array or map
}

var shapeCache sync.Map // reflect.Type -> *shape

func shapeOf(t reflect.Type) *shape {
	if v, ok := shapeCache.Load(t); ok {
		return v.(*shape)
	}
	sh := buildShape(t, map[reflect.Type]*shape{})
	v, _ := shapeCache.LoadOrStore(t, sh)
	return v.(*shape)
}

func buildShape(t reflect.Type, building map[reflect.Type]*shape) *shape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if pt := reflect.PointerTo(t); pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType) {
		return nil // it decodes itself
	}
	if sh, ok := building[t]; ok {
		return sh // a recursive type
	}
	switch t.Kind() {
	case reflect.Struct:
		sh := &shape{fields: map[string]*shape{}}
		building[t] = sh
		for _, f := range structFields(t) {
			if f.quoted {
				sh.fields[f.name] = nil
			} else {
				sh.fields[f.name] = buildShape(f.typ, building)
			}
		}
		return sh
	case reflect.Slice, reflect.Array, reflect.Map:
		sh := &shape{}
		building[t] = sh
		if sh.elem = buildShape(t.Elem(), building); sh.elem == nil {
			return nil
		}
		return sh
	}
	return nil
}

// hasUnknown reports whether raw, which json.Unmarshal took without error,
// holds a member that no struct field takes. It matches names as
// encoding/json does: exactly, else ignoring case.
func hasUnknown(raw []byte, sh *shape) bool {
	if sh == nil {
		return false
	}
	switch raw[0] {
	case '{':
		for key, val := range members(raw) {
			sub := sh.elem
			if sh.fields != nil {
				var ok bool
				if sub, ok = sh.fields[string(key)]; !ok {
					if sub, ok = foldLookup(sh.fields, key); !ok {
						return true
					}
				}
			}
			if hasUnknown(val, sub) {
				return true
			}
		}
	case '[':
		for val := range elements(raw) {
			if hasUnknown(val, sh.elem) {
				return true
			}
		}
	}
	return false
}

func foldLookup(fields map[string]*shape, key []byte) (*shape, bool) {
	for name, sh := range fields {
		if strings.EqualFold(name, string(key)) {
			return sh, true
		}
	}
	return nil, false
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType        = reflect.TypeFor[Duration]()
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
)

// explain walks raw along the Go type t and describes the first thing that
// does not fit, with its path ("ops[2].verb"). It returns "" when it finds
// nothing wrong.
func explain(raw []byte, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if string(raw) == "null" {
		return "" // null leaves any Go value as it is
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(unmarshalerType) || (raw[0] == '"' && pt.Implements(textUnmarshalerType)) {
		return leafError(raw, t, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		if raw[0] != '{' {
			return mismatch(path, t, raw)
		}
		fields := structFields(t)
		for key, val := range members(raw) {
			f := lookupField(fields, key)
			if f == nil {
				return fmt.Sprintf("unknown field %q", joinPath(path, string(key)))
			}
			if f.quoted {
				if msg := leafError(val, f.typ, joinPath(path, f.name)); msg != "" {
					return msg
				}
				continue
			}
			if msg := explain(val, f.typ, joinPath(path, f.name)); msg != "" {
				return msg
			}
		}
		return ""
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return leafError(raw, t, path) // []byte is a base64 string
		}
		if raw[0] != '[' {
			return mismatch(path, t, raw)
		}
		i := 0
		for val := range elements(raw) {
			if msg := explain(val, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); msg != "" {
				return msg
			}
			i++
		}
		return ""
	case reflect.Map:
		if raw[0] != '{' {
			return mismatch(path, t, raw)
		}
		for key, val := range members(raw) {
			if msg := explain(val, t.Elem(), joinPath(path, string(key))); msg != "" {
				return msg
			}
		}
		return leafError(raw, t, path) // key types
	default:
		return leafError(raw, t, path)
	}
}

// leafError decodes raw into a fresh value of type t and describes the
// failure, if any.
func leafError(raw []byte, t reflect.Type, path string) string {
	err := json.Unmarshal(raw, reflect.New(t).Interface())
	if err == nil {
		return ""
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Value != "" {
		return fmt.Sprintf("field %q: expected %s, got %s", path, typeName(t), te.Value)
	}
	return fmt.Sprintf("field %q: %s", path, strings.TrimPrefix(err.Error(), "json: "))
}

func mismatch(path string, t reflect.Type, raw []byte) string {
	return fmt.Sprintf("field %q: expected %s, got %s", path, typeName(t), jsonKind(raw))
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// jsonKind names the kind of a JSON value as encoding/json does.
func jsonKind(raw []byte) string {
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// typeName says what a Go type expects on the wire, in Go's words for
// scalars ("uint64") and in JSON's for the rest.
func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return `duration string such as "30s"`
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return "base64 string"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Interface:
		return "any value"
	}
	return t.Kind().String()
}

// field is one JSON member of a struct, after encoding/json's rules:
// json tags give names, "-" hides, embedded structs are flattened.
type field struct {
	name      string
	typ       reflect.Type
	omitEmpty bool // ",omitempty" or ",omitzero"
	quoted    bool // ",string"
	optional  bool // reached through an embedded pointer
}

var fieldCache sync.Map // reflect.Type -> []field

// structFields lists the JSON members of struct type t in encoding order.
func structFields(t reflect.Type) []field {
	if v, ok := fieldCache.Load(t); ok {
		return v.([]field)
	}
	type candidate struct {
		field
		depth  int
		tagged bool
	}
	var all []candidate
	var walk func(t reflect.Type, depth int, optional bool, seen []reflect.Type)
	walk = func(t reflect.Type, depth int, optional bool, seen []reflect.Type) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous {
				et, ptr := ft, false
				if et.Kind() == reflect.Pointer {
					et, ptr = et.Elem(), true
				}
				if !sf.IsExported() && et.Kind() != reflect.Struct {
					continue
				}
				if name == "" && et.Kind() == reflect.Struct {
					if !containsType(seen, et) {
						walk(et, depth+1, optional || ptr, append(seen, et))
					}
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			f := field{name: name, typ: ft, optional: optional}
			if f.name == "" {
				f.name = sf.Name
			}
			for o := range strings.SplitSeq(opts, ",") {
				switch o {
				case "omitempty", "omitzero":
					f.omitEmpty = true
				case "string":
					switch ft.Kind() {
					case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64, reflect.String:
						f.quoted = true
					}
				}
			}
			all = append(all, candidate{field: f, depth: depth, tagged: name != ""})
		}
	}
	walk(t, 0, false, []reflect.Type{t})

	// Keep the dominant field of each name: the shallowest, or the only
	// tagged one among the shallowest; drop ambiguous names.
	var out []field
	for i, c := range all {
		dominant := true
		for j, o := range all {
			if j == i || o.name != c.name {
				continue
			}
			if o.depth < c.depth || (o.depth == c.depth && (o.tagged || !c.tagged)) {
				dominant = false
			}
		}
		if dominant {
			out = append(out, c.field)
		}
	}
	v, _ := fieldCache.LoadOrStore(t, out)
	return v.([]field)
}

func containsType(ts []reflect.Type, t reflect.Type) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// lookupField finds the member named key as encoding/json does: an exact
// match first, else a case-insensitive one.
func lookupField(fields []field, key []byte) *field {
	for i := range fields {
		if fields[i].name == string(key) {
			return &fields[i]
		}
	}
	for i := range fields {
		if strings.EqualFold(fields[i].name, string(key)) {
			return &fields[i]
		}
	}
	return nil
}
