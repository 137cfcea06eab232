package kv

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"meridian/rpc"
)

var update = flag.Bool("update", false, "rewrite the golden seed corpora in testdata/fuzz")

// goldenCommands are the wire format's reference cases: each is checked
// against its seed file in testdata/fuzz/FuzzUnmarshalCommand, so a change of
// encoding fails here, and the fuzzer starts from them.
var goldenCommands = []struct {
	name string
	cmd  Command
}{
	{"put", Command{Op: OpPut, Key: "app/web/config", Value: []byte(`{"port":8080}`)}},
	{"put-flags", Command{Op: OpPut, Key: "a", Value: []byte("v"), Flags: 1<<64 - 1}},
	{"put-empty-value", Command{Op: OpPut, Key: "a"}},
	{"put-cas-0", Command{Op: OpPut, Key: "lock", Value: []byte("me"), HasCAS: true}},
	{"put-cas", Command{Op: OpPut, Key: "lock", Value: []byte("me"), HasCAS: true, CASIndex: 300}},
	{"put-unicode", Command{Op: OpPut, Key: "日本/語", Value: []byte{0, 1, 2, 0xff}}},
	{"delete", Command{Op: OpDelete, Key: "a/b"}},
	{"delete-cas", Command{Op: OpDelete, Key: "a/b", HasCAS: true, CASIndex: 7}},
	{"delete-tree", Command{Op: OpDeleteTree, Key: "app/"}},
	{"delete-tree-all", Command{Op: OpDeleteTree}},
	{"txn-empty", Command{Op: OpTxn}},
	{"txn", Command{Op: OpTxn, Ops: []rpc.TxnOp{
		{Verb: rpc.TxnSet, Key: "a", Value: []byte("1"), Flags: 3},
		{Verb: rpc.TxnGet, Key: "a"},
		{Verb: rpc.TxnDelete, Key: "b"},
		{Verb: rpc.TxnCAS, Key: "c", Value: []byte("2"), Index: 9},
		{Verb: rpc.TxnDeleteCAS, Key: "d", Index: 10},
		{Verb: rpc.TxnCheckIndex, Key: "e", Index: 11},
		{Verb: rpc.TxnCheckNotExists, Key: "f"},
	}}},
	{"txn-unknown-verb", Command{Op: OpTxn, Ops: []rpc.TxnOp{{Verb: "frob", Key: "a"}, {Key: "no-verb"}}}},
}

func TestCommandRoundTrip(t *testing.T) {
	for _, tt := range goldenCommands {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.cmd.Marshal()
			got, err := UnmarshalCommand(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, &tt.cmd) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tt.cmd)
			}
			// The decoded command does not alias the buffer.
			for i := range b {
				b[i] = 0xAA
			}
			if !reflect.DeepEqual(got, &tt.cmd) {
				t.Fatal("decoded command aliases its buffer")
			}
		})
	}
}

func TestCommandGolden(t *testing.T) {
	for _, tt := range goldenCommands {
		t.Run(tt.name, func(t *testing.T) {
			checkSeed(t, "FuzzUnmarshalCommand", tt.name, fmt.Sprintf("[]byte(%q)", tt.cmd.Marshal()))
		})
	}
}

// checkSeed compares the seed file testdata/fuzz/<fuzz>/<name> with the
// corpus values vals (one Go literal a line), or writes it under -update.
// Seeds double as golden files of the encodings.
func checkSeed(t *testing.T, fuzz, name string, vals ...string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzz)
	path := filepath.Join(dir, name)
	want := "go test fuzz v1\n" + strings.Join(vals, "\n") + "\n"
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./server/kv -run Golden -args -update writes it)", err)
	}
	if string(got) != want {
		t.Fatalf("%s changed:\n got %s\nwant %s", path, got, want)
	}
}

func TestCommandSize(t *testing.T) {
	c := Command{Op: OpPut, Key: "app/web/config", Value: make([]byte, 128)}
	if n := len(c.Marshal()); n != 3+1+14+2+128 {
		t.Errorf("put of 14-byte key and 128-byte value: %d bytes", n)
	}
}

func TestUnmarshalCommandErrors(t *testing.T) {
	valid := goldenCommands[0].cmd.Marshal()
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated version at byte 0"},
		{"version", []byte{2, 1, 0}, "unknown version 2 (want 1)"},
		{"op zero", []byte{1, 0, 0}, "unknown op 0"},
		{"op unknown", []byte{1, 9, 0}, "unknown op 9"},
		{"no bits", []byte{1, 1}, "truncated field bits at byte 2"},
		{"unknown bits", []byte{1, 1, 0x80}, "unknown field bits 0x80"},
		{"key cut", []byte{1, 1, cmdKey, 5, 'a', 'b'}, "truncated key: length 5, 2 bytes left at byte 4"},
		{"key length cut", []byte{1, 1, cmdKey}, "truncated key length at byte 3"},
		{"varint overflow", []byte{1, 1, cmdFlags, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "flags overflows 64 bits"},
		{"trailing", append(append([]byte(nil), valid...), 0), "1 trailing bytes"},
		{"huge op count", []byte{1, 4, cmdOps, 0xff, 0xff, 0xff, 0xff, 0x0f}, "op count 4294967295 does not fit in 0 bytes"},
		{"op cut", []byte{1, 4, cmdOps, 1, 1, opKey}, "op 0: truncated op key length at byte 6"},
		{"verb code", []byte{1, 4, cmdOps, 1, 99, 0}, "op 0: unknown verb code 99 at byte 4"},
		{"op bits", []byte{1, 4, cmdOps, 1, 1, 0x40}, "op 0: unknown op field bits 0x40 at byte 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := UnmarshalCommand(tt.b)
			if c != nil || !errors.Is(err, ErrMalformedCommand) {
				t.Fatalf("UnmarshalCommand = %v, %v", c, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func FuzzUnmarshalCommand(f *testing.F) {
	for _, tt := range goldenCommands {
		f.Add(tt.cmd.Marshal())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := UnmarshalCommand(b)
		if err != nil {
			if c != nil || !errors.Is(err, ErrMalformedCommand) {
				t.Fatalf("UnmarshalCommand = %v, %v", c, err)
			}
			return
		}
		b2 := c.Marshal()
		c2, err := UnmarshalCommand(b2)
		if err != nil {
			t.Fatalf("re-marshalled command does not decode: %v", err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", c2, c)
		}
		// Applying any decodable command keeps the machine sound.
		h := newHarness(t)
		h.mustOK(putCmd("a", "1"), putCmd("b/c", "2"), delCmd("a"))
		h.apply(b)
		checkInvariants(t, h.m.View())
	})
}
