package rpc

import "encoding/json"

// Method names of the WASM check module API (docs/api.md).
const (
	MethodModuleSubmit = "checks.module.submit"
	MethodModuleList   = "checks.module.list"
	MethodModuleGet    = "checks.module.get"
	MethodModuleDelete = "checks.module.delete"
	// MethodChecksTry runs a module once on an edge, registering nothing.
	MethodChecksTry = "checks.try"
)

// ModulesPath is the raw upload of a module: PUT with the .wasm bytes as
// the body; the answer is a ModuleSubmitResult as JSON.
const ModulesPath = "/v1/modules"

// ModuleSubmitParams of checks.module.submit. Module is the .wasm file
// (base64 in JSON). Name, if set, is pointed at the module's digest
// (moved from another module if it named one).
type ModuleSubmitParams struct {
	Module []byte `json:"module"`
	Name   string `json:"name,omitempty"`
	WriteOptions
}

// ModuleSubmitResult: what was stored. Submitting the same bytes again is
// not an error; Created says whether this call stored them.
type ModuleSubmitResult struct {
	Digest  string `json:"digest"` // hex sha256 of the bytes
	Size    int    `json:"size"`
	ABI     int    `json:"abi"`
	Name    string `json:"name,omitempty"`
	Created bool   `json:"created"`
	Index   uint64 `json:"index"`
}

// Module describes a stored module (checks.module.list and .get).
type Module struct {
	Digest      string   `json:"digest"`
	Size        int      `json:"size"`
	ABI         int      `json:"abi"`
	Imports     []string `json:"imports,omitempty"`
	Names       []string `json:"names,omitempty"` // names pointing at it
	CreateIndex uint64   `json:"create_index"`
	ModifyIndex uint64   `json:"modify_index"`
}

// ModuleListParams of checks.module.list: a blocking query like the
// catalog's.
type ModuleListParams struct {
	ReadOptions
}

// ModuleListResult of checks.module.list, sorted by digest.
type ModuleListResult struct {
	Modules []Module `json:"modules"`
	ReadMeta
}

// ModuleGetParams of checks.module.get. Module is a digest or a name.
// WithBody adds the .wasm bytes to the answer.
type ModuleGetParams struct {
	Module   string `json:"module"`
	WithBody bool   `json:"with_body,omitempty"`
	ReadOptions
}

// ModuleGetResult of checks.module.get; -32005 if there is no such
// module or name.
type ModuleGetResult struct {
	Module
	Body []byte `json:"body,omitempty"`
	ReadMeta
}

// ModuleDeleteParams of checks.module.delete. Module is a digest or a
// name; a name alone (Name true) removes only the name. Without Force, a
// module some registered check uses is not deleted (-32602 naming them).
type ModuleDeleteParams struct {
	Module string `json:"module"`
	Name   bool   `json:"name_only,omitempty"`
	Force  bool   `json:"force,omitempty"`
	WriteOptions
}

// ModuleDeleteResult of checks.module.delete.
type ModuleDeleteResult struct {
	Deleted bool   `json:"deleted"`
	Index   uint64 `json:"index"`
}

// ChecksTryParams of checks.try: run Module (digest or name) once, now,
// on Node's edge (default the agent answering). Timeout as in a check
// definition ("5s").
type ChecksTryParams struct {
	Module  string          `json:"module"`
	Args    json.RawMessage `json:"args,omitempty"`
	Grants  []string        `json:"grants,omitempty"`
	Timeout Duration        `json:"timeout,omitempty"`
	Node    string          `json:"node,omitempty"`
}

// ChecksTryResult of checks.try. Status is passing, warning or critical.
type ChecksTryResult struct {
	Node       string   `json:"node"`
	Status     string   `json:"status"`
	Output     string   `json:"output"`
	DurationMS float64  `json:"duration_ms"`
	Refused    []string `json:"refused,omitempty"`
}

// MaxModuleNameBytes caps a module name.
const MaxModuleNameBytes = 128

// IsModuleDigest reports whether ref has the form of a module digest (64
// lower-case hex digits, a sha256); any other reference is a name.
func IsModuleDigest(ref string) bool {
	if len(ref) != 64 {
		return false
	}
	for _, c := range []byte(ref) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidateModuleName checks a module name: 1-128 letters, digits, '-',
// '_' or '.', starting with a letter or digit, and not shaped like a
// digest. field names the parameter in the error.
func ValidateModuleName(field, name string) error {
	if name == "" || len(name) > MaxModuleNameBytes {
		return InvalidParams("field %q: a module name has 1 to %d characters", field, MaxModuleNameBytes)
	}
	for i, c := range []byte(name) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || i > 0 && (c == '-' || c == '_' || c == '.')
		if !ok {
			return InvalidParams("field %q: %q: a module name has letters, digits, '-', '_' and '.', starting with a letter or digit", field, name)
		}
	}
	if IsModuleDigest(name) {
		return InvalidParams("field %q: %q has the form of a digest and cannot be a name", field, name)
	}
	return nil
}

// ValidateModuleRef checks a reference to a module: a digest or a name.
func ValidateModuleRef(field, ref string) error {
	if IsModuleDigest(ref) {
		return nil
	}
	if ref == "" {
		return InvalidParams("field %q: give a module digest (sha256, 64 hex digits) or name", field)
	}
	return ValidateModuleName(field, ref)
}
