package rpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// metaSchema compiles the official OpenRPC meta-schema (testdata/README.md
// says where it comes from). Two adaptations, in memory only, let a strict
// validator load it: its $schema, https://meta.json-schema.tools/, is the
// json-schema-tools dialect of draft-07 and is not reachable here, so it is
// read as draft-07; and definitions.JSONSchema carries that same URL as
// $id, which would make its "#/definitions/..." references point inside
// itself, while the tools that publish it resolve them against the whole
// document, as done here by dropping that $id.
func metaSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := os.ReadFile("testdata/openrpc-meta-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	root := doc.(map[string]any)
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	js := root["definitions"].(map[string]any)["JSONSchema"].(map[string]any)
	delete(js, "$id")
	delete(js, "$schema")
	c := jsonschema.NewCompiler()
	const url = "https://meta.open-rpc.org/"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// discover fetches the document through the rpc.discover method.
func discover(t *testing.T, s *Server) []byte {
	t.Helper()
	var resp struct {
		Result json.RawMessage `json:"result"`
		Error  *Error          `json:"error"`
	}
	raw := s.Handle(t.Context(), []byte(`{"jsonrpc":"2.0","method":"rpc.discover","id":1}`))
	if err := json.Unmarshal(raw, &resp); err != nil || resp.Error != nil {
		t.Fatalf("rpc.discover: %s (%v)", raw, err)
	}
	return resp.Result
}

func TestOpenRPCValidates(t *testing.T) {
	meta := metaSchema(t)
	doc := discover(t, toyServer(t))
	tests := []struct {
		name    string
		mutate  func(d map[string]any)
		wantErr string // "" for a valid document
	}{
		{name: "as served"},
		{name: "no openrpc version", mutate: func(d map[string]any) { delete(d, "openrpc") }, wantErr: "openrpc"},
		{name: "unknown openrpc version", mutate: func(d map[string]any) { d["openrpc"] = "9.9.9" }, wantErr: "/openrpc"},
		{name: "no info", mutate: func(d map[string]any) { delete(d, "info") }, wantErr: "info"},
		{name: "method without result", mutate: func(d map[string]any) { delete(methodAt(d, 0), "result") }, wantErr: "/methods/0"},
		{name: "bad paramStructure", mutate: func(d map[string]any) { methodAt(d, 0)["paramStructure"] = "sideways" }, wantErr: "/methods/0"},
		{name: "param without schema", mutate: func(d map[string]any) {
			delete(methodAt(d, 0)["params"].([]any)[0].(map[string]any), "schema")
		}, wantErr: "/methods/0"},
		{name: "bad schema type", mutate: func(d map[string]any) {
			methodAt(d, 0)["result"].(map[string]any)["schema"] = map[string]any{"type": "strin"}
		}, wantErr: "/methods/0"},
		{name: "unknown top-level member", mutate: func(d map[string]any) { d["extra"] = true }, wantErr: "extra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
			if err != nil {
				t.Fatal(err)
			}
			if tt.mutate != nil {
				tt.mutate(inst.(map[string]any))
			}
			err = meta.Validate(inst)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("the document does not validate: %v\n%s", err, doc)
			case tt.wantErr != "" && err == nil:
				t.Fatal("a broken document validates")
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %v, want one about %q", err, tt.wantErr)
			}
		})
	}
}

func methodAt(d map[string]any, i int) map[string]any {
	return d["methods"].([]any)[i].(map[string]any)
}

// TestOpenRPCContent checks what the document says of our types.
func TestOpenRPCContent(t *testing.T) {
	var doc struct {
		OpenRPC string `json:"openrpc"`
		Info    struct {
			Title   string `json:"title"`
			Version string `json:"version"`
		} `json:"info"`
		Methods []struct {
			Name    string `json:"name"`
			Summary string `json:"summary"`
			Params  []struct {
				Name     string         `json:"name"`
				Required bool           `json:"required"`
				Schema   map[string]any `json:"schema"`
			} `json:"params"`
			Result struct {
				Name   string         `json:"name"`
				Schema map[string]any `json:"schema"`
			} `json:"result"`
			ParamStructure string `json:"paramStructure"`
		} `json:"methods"`
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	raw := discover(t, toyServer(t))
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenRPC != "1.2.6" || doc.Info.Title != "Meridian" || doc.Info.Version == "" {
		t.Fatalf("header: %s %+v", doc.OpenRPC, doc.Info)
	}
	var names []string
	for _, m := range doc.Methods {
		names = append(names, m.Name)
		if m.ParamStructure != "by-name" || m.Result.Name != "result" || m.Summary == "" {
			t.Errorf("method %s: %+v", m.Name, m)
		}
	}
	wantNames := []string{MethodKVDelete, MethodKVGet, MethodKVList, MethodKVPut, MethodKVTxn,
		MethodStatusLeader, MethodStatusPeers, MethodStatusShards}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("methods %v, want %v (sorted, without rpc.discover)", names, wantNames)
	}

	put := doc.Methods[3]
	type param struct {
		name     string
		required bool
		schema   string
	}
	var params []param
	for _, p := range put.Params {
		s, _ := json.Marshal(p.Schema)
		params = append(params, param{p.Name, p.Required, string(s)})
	}
	wantParams := []param{
		{"key", true, `{"type":"string"}`},
		{"value", true, `{"contentEncoding":"base64","type":"string"}`},
		{"flags", false, `{"minimum":0,"type":"integer"}`},
		{"cas", false, `{"anyOf":[{"minimum":0,"type":"integer"},{"type":"null"}]}`},
		{"dc", false, `{"type":"string"}`},
		{"timeout", false, `{"description":"a Go duration such as \"30s\" or \"1m30s\"","pattern":"` +
			strings.ReplaceAll(durationPattern, `\`, `\\`) + `","type":"string"}`},
	}
	if !reflect.DeepEqual(params, wantParams) {
		t.Fatalf("kv.put params:\n got %+v\nwant %+v", params, wantParams)
	}
	if ref := put.Result.Schema["$ref"]; ref != "#/components/schemas/KVPutResult" {
		t.Errorf("kv.put result: %v", put.Result.Schema)
	}

	comps := doc.Components.Schemas
	for _, name := range []string{"KVEntry", "KVGetResult", "KVListResult", "KVPutResult", "KVDeleteResult",
		"KVTxnResult", "TxnOp", "TxnResult", "TxnError", "StatusLeaderResult", "StatusPeersResult", "Peer",
		"StatusShardsResult", "ShardStatus"} {
		if comps[name] == nil {
			t.Errorf("components.schemas has no %s", name)
		}
	}
	get, _ := json.Marshal(comps["KVGetResult"])
	const wantGet = `{"additionalProperties":false,"properties":{` +
		`"entry":{"anyOf":[{"$ref":"#/components/schemas/KVEntry"},{"type":"null"}]},` +
		`"index":{"minimum":0,"type":"integer"},` +
		`"known_leader":{"anyOf":[{"type":"boolean"},{"type":"null"}]},` +
		`"last_contact_ms":{"anyOf":[{"type":"integer"},{"type":"null"}]}},` +
		`"required":["index"],"type":"object"}`
	if string(get) != wantGet {
		t.Errorf("KVGetResult:\n got %s\nwant %s", get, wantGet)
	}
	if r := comps["KVEntry"]["required"]; !reflect.DeepEqual(r, []any{"key", "value", "flags", "create_index", "modify_index", "lock_index"}) {
		t.Errorf("KVEntry required: %v", r)
	}
}

// TestOpenRPCSchemasMatchTheWire validates values as they travel against
// the schemas of the document, so the schemas say what the encoding does.
func TestOpenRPCSchemasMatchTheWire(t *testing.T) {
	raw := discover(t, toyServer(t))
	docVal, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	doc := docVal.(map[string]any)
	methods := map[string]map[string]any{}
	for _, m := range doc["methods"].([]any) {
		mm := m.(map[string]any)
		methods[mm["name"].(string)] = mm
	}
	// Each method's params become one object schema, as a by-name call
	// sends them; results are checked against result.schema.
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	for name, m := range methods {
		props, required := map[string]any{}, []any{}
		for _, p := range m["params"].([]any) {
			pm := p.(map[string]any)
			props[pm["name"].(string)] = pm["schema"]
			if pm["required"] == true {
				required = append(required, pm["name"])
			}
		}
		schemas := map[string]any{
			"params": map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false},
			"result": m["result"].(map[string]any)["schema"],
		}
		for kind, s := range schemas {
			res := map[string]any{"components": doc["components"], "definitions": map[string]any{"this": s}}
			if err := c.AddResource(fmt.Sprintf("urn:test:%s:%s", name, kind), res); err != nil {
				t.Fatal(err)
			}
		}
	}
	zero := uint64(0)
	yes := true
	ms := int64(12)
	tests := []struct {
		name    string
		method  string
		kind    string // "params" or "result"
		value   any    // encoded with encoding/json; a string is raw JSON
		wantErr bool
	}{
		{"put params", MethodKVPut, "params", KVPutParams{Key: "a", Value: []byte("hi"), CAS: &zero, WriteOptions: WriteOptions{Timeout: Duration(90 * time.Second)}}, false},
		{"put params, sub-second timeout", MethodKVPut, "params", KVPutParams{Key: "a", Value: []byte{}, WriteOptions: WriteOptions{Timeout: Duration(1500 * time.Microsecond)}}, false},
		{"put params, key missing", MethodKVPut, "params", `{"value":"aGk="}`, true},
		{"put params, negative flags", MethodKVPut, "params", `{"key":"a","value":"aGk=","flags":-1}`, true},
		{"put params, unknown member", MethodKVPut, "params", `{"key":"a","value":"aGk=","foo":1}`, true},
		{"put params, bad duration", MethodKVPut, "params", `{"key":"a","value":"aGk=","timeout":"soon"}`, true},
		{"get params", MethodKVGet, "params", KVGetParams{Key: "a", ReadOptions: ReadOptions{Consistency: ConsistencyStale, Index: 4, Wait: Duration(time.Minute)}}, false},
		{"txn params", MethodKVTxn, "params", KVTxnParams{Ops: []TxnOp{{Verb: TxnCAS, Key: "a", Value: []byte("x"), Index: 3}}}, false},
		{"txn params, op without key", MethodKVTxn, "params", `{"ops":[{"verb":"get"}]}`, true},
		{"get result", MethodKVGet, "result", KVGetResult{Entry: &KVEntry{Key: "a", Value: []byte("hi"), Session: "s"}, ReadMeta: ReadMeta{Index: 3, KnownLeader: &yes, LastContactMS: &ms}}, false},
		{"get result, absent key", MethodKVGet, "result", KVGetResult{ReadMeta: ReadMeta{Index: 3}}, false},
		{"list result", MethodKVList, "result", KVListResult{Keys: []string{"a", "b"}, ReadMeta: ReadMeta{Index: 3}}, false},
		{"txn result", MethodKVTxn, "result", KVTxnResult{OK: false, Errors: []TxnError{{OpIndex: 1, What: "cas"}}, Index: 9}, false},
		{"shards result", MethodStatusShards, "result", StatusShardsResult{Node: "n1", Shards: []ShardStatus{{ID: 1, Kind: "kv", Replicas: []uint64{1, 2}}}}, false},
		{"peers result", MethodStatusPeers, "result", StatusPeersResult{Peers: []Peer{{Node: "n1", ReplicaID: 1, RaftAddr: "127.0.0.1:7300"}}}, false},
		{"leader result, wrong type", MethodStatusLeader, "result", `{"leader":5}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sch, err := c.Compile(fmt.Sprintf("urn:test:%s:%s#/definitions/this", tt.method, tt.kind))
			if err != nil {
				t.Fatal(err)
			}
			b, ok := tt.value.(string)
			if !ok {
				enc, err := json.Marshal(tt.value)
				if err != nil {
					t.Fatal(err)
				}
				b = string(enc)
			}
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(inst); (err != nil) != tt.wantErr {
				t.Fatalf("%s: validation error %v, want error %v", b, err, tt.wantErr)
			}
		})
	}
}

func TestSchemaNames(t *testing.T) {
	type Peer struct{ X int } // the name of rpc.Peer, another type
	type node struct {
		Next *node `json:"next"`
	}
	g := &schemaGen{defs: map[string]schema{}, names: map[reflect.Type]string{}}
	tests := []struct {
		name string
		typ  reflect.Type
		want string
	}{
		{"first comer keeps its name", reflect.TypeFor[Peer](), "#/components/schemas/Peer"},
		{"same type, same name", reflect.TypeFor[Peer](), "#/components/schemas/Peer"},
		{"another type of the same name", reflect.TypeFor[StatusPeersResult]().Field(0).Type.Elem(), "#/components/schemas/meridian_rpc.Peer"},
		{"generic type", reflect.TypeFor[generic[int]](), "#/components/schemas/generic_int_"},
		{"recursive", reflect.TypeFor[node](), "#/components/schemas/node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := g.schema(tt.typ)["$ref"]; got != tt.want {
				t.Fatalf("$ref %v, want %s", got, tt.want)
			}
		})
	}
	next, _ := json.Marshal(g.defs["node"])
	if want := `{"additionalProperties":false,"properties":{"next":{"anyOf":[{"$ref":"#/components/schemas/node"},{"type":"null"}]}},"type":"object"}`; string(next) != want {
		t.Errorf("node: %s, want %s", next, want)
	}
}

type generic[T any] struct {
	V T `json:"v"`
}
