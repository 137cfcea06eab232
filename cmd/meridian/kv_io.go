package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"meridian/rpc"
	"meridian/server/kv"
)

// exported is one key in the format of `consul kv export` and `consul kv
// import`: what one tool writes, the other reads.
type exported struct {
	Key   string `json:"key"`
	Flags uint64 `json:"flags"`
	Value []byte `json:"value"` // base64 in JSON
}

// kvExport prints every key under a prefix as a JSON array of exported.
func kvExport(args []string, stdout, stderr io.Writer) int {
	v := newVerb("kv export", "meridian kv export [flags] [PREFIX]   (JSON for kv import, and for consul kv import)", stderr)
	v.dcFlag()
	if !v.parse(args, 0, 1) {
		return v.exit
	}
	p := &rpc.KVListParams{Prefix: v.fs.Arg(0)}
	p.DC = v.dc
	var res rpc.KVListResult
	if err := v.call(rpc.MethodKVList, p, &res, true); err != nil {
		return v.fail(err)
	}
	out := make([]exported, 0, len(res.Entries))
	for _, e := range res.Entries {
		val := e.Value
		if val == nil {
			val = []byte{} // "", not null
		}
		out = append(out, exported{Key: e.Key, Flags: e.Flags, Value: val})
	}
	b, err := json.MarshalIndent(out, "", "\t")
	if err != nil {
		return v.fail(err)
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}

// kvImport writes the keys of a kv export, one kv.put each, saying each
// as it goes.
func kvImport(args []string, stdout, stderr io.Writer) int {
	v := newVerb("kv import", "meridian kv import [flags] [DATA]   (DATA: JSON from kv export; @FILE reads FILE; - or none reads stdin)", stderr)
	v.dcFlag()
	prefix := v.fs.String("prefix", "", "put each key under this prefix")
	if !v.parse(args, 0, 1) {
		return v.exit
	}
	arg := v.fs.Arg(0)
	if v.fs.NArg() == 0 {
		arg = "-"
	}
	data, err := putValue(arg, os.Stdin, false)
	if err != nil {
		return v.fail(err)
	}
	entries, err := parseImport(data, *prefix)
	if err != nil {
		return v.fail(err)
	}
	cl, err := v.client() // one connection for every put
	if err != nil {
		return v.fail(err)
	}
	defer cl.Close()
	for i, e := range entries {
		p := &rpc.KVPutParams{Key: e.Key, Value: e.Value, Flags: e.Flags}
		p.DC = v.dc
		if err := v.callOn(cl, rpc.MethodKVPut, p, &rpc.KVPutResult{}, true); err != nil {
			return v.fail(fmt.Errorf("%q (entry %d of %d; the ones before it are imported): %w", p.Key, i+1, len(entries), err))
		}
		fmt.Fprintf(stdout, "Imported: %s\n", p.Key)
	}
	return 0
}

// parseImport reads a kv export and puts prefix before each key. The JSON
// and every key are checked before anything is written, so malformed data
// writes nothing; a value over the servers' limit (theirs to set) is
// refused when its turn comes.
func parseImport(data []byte, prefix string) ([]exported, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var entries []exported
	if err := dec.Decode(&entries); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("the data is not JSON (at byte %d): %v", syn.Offset, err)
		case errors.As(err, &typ) && typ.Field == "":
			return nil, fmt.Errorf("the data is a JSON %s, want an array of {\"key\", \"flags\", \"value\"} (a kv export)", typ.Value)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("the data is not a kv export: field %q at byte %d is %s, want %s",
				typ.Field, typ.Offset, typ.Value, typ.Type)
		case errors.Is(err, io.EOF):
			return nil, errors.New("no data: want a JSON array of {\"key\", \"flags\", \"value\"}")
		}
		return nil, fmt.Errorf("the data is not a kv export (a JSON array of {\"key\", \"flags\", \"value\"}): %v", err)
	}
	if dec.More() {
		return nil, errors.New("the data has more after its JSON array")
	}
	for i := range entries {
		e := &entries[i]
		if e.Key == "" {
			return nil, fmt.Errorf("entry %d has no key", i+1)
		}
		e.Key = prefix + e.Key
		if err := kv.ValidateKey(e.Key); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
	}
	return entries, nil
}
