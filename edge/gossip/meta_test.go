package gossip

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		meta Meta
		wire string
	}{
		{"edge", Meta{Role: RoleEdge, DC: "dc1"}, `{"role":"edge","dc":"dc1"}`},
		{"server", Meta{Role: RoleServer, DC: "dc1", RPCAddr: "10.0.0.1:8500", DNSAddr: "10.0.0.1:8600",
			RaftAddr: "10.0.0.1:8300", Version: "1.2.3", Expect: 3, Tags: map[string]string{"b": "2", "a": "1"}},
			`{"role":"server","dc":"dc1","rpc":"10.0.0.1:8500","dns":"10.0.0.1:8600","raft":"10.0.0.1:8300","ver":"1.2.3","expect":3,"tags":{"a":"1","b":"2"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.meta.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.wire {
				t.Errorf("Encode = %s, want %s", b, tc.wire)
			}
			got, err := DecodeMeta(b)
			if err != nil || !reflect.DeepEqual(got, tc.meta) {
				t.Errorf("DecodeMeta = %+v, %v", got, err)
			}
		})
	}
}

func TestMetaEncodeLimit(t *testing.T) {
	base := len(`{"role":"edge","dc":"dc1","tags":{"k":""}}`)
	for _, tc := range []struct {
		name string
		size int
		ok   bool
	}{
		{"exactly 512", 512, true},
		{"513", 513, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Meta{Role: RoleEdge, DC: "dc1", Tags: map[string]string{"k": strings.Repeat("v", tc.size-base)}}
			b, err := m.Encode()
			if tc.ok != (err == nil) {
				t.Fatalf("Encode: %d bytes, err %v", len(b), err)
			}
			if err != nil && (!errors.Is(err, ErrMetaTooLarge) || !strings.Contains(err.Error(), "513 bytes encoded, limit is 512")) {
				t.Errorf("error %q", err)
			}
		})
	}
}

func TestDecodeMeta(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Meta
		err  bool
	}{
		{"unknown fields ignored", `{"role":"mesh","dc":"dc9","new":1}`, Meta{Role: "mesh", DC: "dc9"}, false},
		{"empty", ``, Meta{}, true},
		{"not json", `role=edge`, Meta{}, true},
		{"wrong type", `{"expect":"3"}`, Meta{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeMeta([]byte(tc.in))
			if tc.err != (err != nil) || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("DecodeMeta = %+v, %v", got, err)
			}
			if err != nil && !errors.Is(err, ErrBadMeta) {
				t.Errorf("error %v is not ErrBadMeta", err)
			}
		})
	}
}

// FuzzDecodeMeta: what decodes re-encodes to something that decodes the same.
func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte(`{"role":"server","dc":"dc1","rpc":"10.0.0.1:8500","raft":"10.0.0.1:8300","expect":3,"tags":{"a":"1"}}`))
	f.Add([]byte(`{"role":"edge","dc":"dc1"}`))
	f.Add([]byte(`{"tags":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		enc, err := m.Encode()
		if err != nil {
			if errors.Is(err, ErrMetaTooLarge) {
				return
			}
			t.Fatal(err)
		}
		m2, err := DecodeMeta(enc)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Tags) == 0 && len(m2.Tags) == 0 {
			m.Tags, m2.Tags = nil, nil
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("%+v re-decodes as %+v", m, m2)
		}
	})
}
