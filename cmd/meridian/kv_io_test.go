package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestParseImport: kv import reads what kv export (and consul kv export)
// writes, and names what is wrong with anything else before it writes.
func TestParseImport(t *testing.T) {
	got, err := parseImport([]byte(`[
		{"key": "app/a", "flags": 0, "value": "MQ=="},
		{"key": "app/b", "flags": 7, "value": ""},
		{"key": "app/c", "value": null}
	]`), "copy/")
	if err != nil {
		t.Fatal(err)
	}
	want := []exported{{Key: "copy/app/a", Value: []byte("1")}, {Key: "copy/app/b", Flags: 7, Value: []byte{}}, {Key: "copy/app/c"}}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Fatalf("parsed %s, want %s", gb, wb)
	}

	for _, c := range []struct{ data, prefix, err string }{
		{"", "", "no data"},
		{"{", "", "not a kv export"},
		{`{"key": "a"}`, "", "the data is a JSON object, want an array"},
		{`"x"`, "", "the data is a JSON string, want an array"},
		{`[{"key": 5}]`, "", `field "key" at byte 10 is number, want string`},
		{`[{"key": "a", "value": "!!"}]`, "", "illegal base64"},
		{`[{"key": "a", "colour": 1}]`, "", `unknown field "colour"`},
		{`[{"key": "a"}] [1]`, "", "more after its JSON array"},
		{`[{"key": "a"}, {"flags": 1}]`, "", "entry 2 has no key"},
		{`[{"key": "/a"}]`, "", "entry 1: kv: invalid key: leading '/'"},
		{`[{"key": "a"}]`, "/", "entry 1: kv: invalid key: leading '/'"},
		{`[{"key": "` + strings.Repeat("k", 1020) + `"}]`, "long/", "1025 bytes, max 1024"},
	} {
		_, err := parseImport([]byte(c.data), c.prefix)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("parseImport(%.40q, prefix %q): error %v, want one containing %q", c.data, c.prefix, err, c.err)
		}
	}
}
