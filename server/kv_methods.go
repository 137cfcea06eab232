package server

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"meridian/rpc"
	"meridian/server/kv"
	"meridian/server/shard"
)

func (s *Server) registerKV(api *rpc.Server) {
	rpc.Register(api, rpc.MethodKVGet, "Read one key. Blocking with index and wait.", s.kvGet)
	rpc.Register(api, rpc.MethodKVList, "List keys under a prefix, with values or keys only, optionally one level deep (separator). Blocking with index and wait.", s.kvList)
	rpc.Register(api, rpc.MethodKVPut, "Write a key, optionally only if its modify index is cas (0: only if absent).", s.kvPut)
	rpc.Register(api, rpc.MethodKVDelete, "Delete a key, or every key under a prefix with recurse; cas as for kv.put.", s.kvDelete)
	rpc.Register(api, rpc.MethodKVTxn, "Apply up to 128 operations atomically; all keys must be in one shard.", s.kvTxn)
}

func keyParam(field, key string) error {
	if err := kv.ValidateKey(key); err != nil {
		return rpc.InvalidParams("field %q: %v", field, err)
	}
	return nil
}

// prefixParam accepts "" (everything) or a prefix that would be a valid key.
func prefixParam(field, prefix string) error {
	if prefix == "" {
		return nil
	}
	return keyParam(field, prefix)
}

func (s *Server) valueParam(field string, v []byte) error {
	if len(v) > s.cfg.MaxValueBytes {
		return rpc.InvalidParams("field %q: value is %d bytes, over the limit of %d", field, len(v), s.cfg.MaxValueBytes)
	}
	return nil
}

// shardsFor returns the one shard a prefix lives in, or every KV shard when
// it spans folders.
func (s *Server) shardsFor(prefix string) []shard.ID {
	if id, ok := shard.ForPrefix(prefix, s.kvShards); ok {
		return []shard.ID{id}
	}
	return shard.All(s.kvShards)[1:]
}

func (s *Server) kvGet(ctx context.Context, p *rpc.KVGetParams) (*rpc.KVGetResult, error) {
	if err := keyParam("key", p.Key); err != nil {
		return nil, err
	}
	var entry *rpc.KVEntry
	meta, err := s.read(ctx, p.ReadOptions, []shard.ID{shard.ForKey(p.Key, s.kvShards)},
		func(v []any) (uint64, []<-chan struct{}) {
			e, idx, w := v[0].(*kv.View).Get(p.Key)
			entry = e
			return idx, []<-chan struct{}{w}
		})
	if err != nil {
		return nil, err
	}
	return &rpc.KVGetResult{Entry: entry, ReadMeta: meta}, nil
}

func (s *Server) kvList(ctx context.Context, p *rpc.KVListParams) (*rpc.KVListResult, error) {
	if err := prefixParam("prefix", p.Prefix); err != nil {
		return nil, err
	}
	res := &rpc.KVListResult{}
	ids := s.shardsFor(p.Prefix)
	meta, err := s.read(ctx, p.ReadOptions, ids, func(views []any) (uint64, []<-chan struct{}) {
		res.Entries, res.Keys = nil, nil
		var sum uint64
		watches := make([]<-chan struct{}, 0, len(views))
		for _, v := range views {
			entries, keys, idx, w := v.(*kv.View).List(p.Prefix, p.KeysOnly, p.Separator)
			res.Entries = append(res.Entries, entries...)
			res.Keys = append(res.Keys, keys...)
			// Across shards the index is the sum of each shard's: it
			// grows whenever any of them changes under the prefix.
			sum += idx
			watches = append(watches, w)
		}
		if len(views) > 1 {
			sort.Slice(res.Entries, func(i, j int) bool { return res.Entries[i].Key < res.Entries[j].Key })
			sort.Strings(res.Keys)
		}
		return sum, watches
	})
	if err != nil {
		return nil, err
	}
	if p.KeysOnly && res.Keys == nil {
		res.Keys = []string{}
	}
	if !p.KeysOnly && res.Entries == nil {
		res.Entries = []*rpc.KVEntry{}
	}
	res.ReadMeta = meta
	return res, nil
}

func (s *Server) propose(ctx context.Context, opts rpc.WriteOptions, id shard.ID, cmd *kv.Command) (kv.Result, error) {
	if err := s.checkDC(opts.DC); err != nil {
		return kv.Result{}, err
	}
	cctx, cancel, err := s.callCtx(ctx, opts.Timeout)
	if err != nil {
		return kv.Result{}, err
	}
	defer cancel()
	raw, err := s.raft.Propose(cctx, id, cmd.Marshal())
	if err != nil {
		return kv.Result{}, err
	}
	res, err := kv.DecodeResult(raw.Value, raw.Data)
	if err != nil {
		return res, err
	}
	if res.Err != "" {
		return res, fmt.Errorf("%v rejected the command: %s", id, res.Err)
	}
	return res, nil
}

func (s *Server) kvPut(ctx context.Context, p *rpc.KVPutParams) (*rpc.KVPutResult, error) {
	if err := keyParam("key", p.Key); err != nil {
		return nil, err
	}
	if err := s.valueParam("value", p.Value); err != nil {
		return nil, err
	}
	cmd := &kv.Command{Op: kv.OpPut, Key: p.Key, Value: p.Value, Flags: p.Flags}
	if p.CAS != nil {
		cmd.HasCAS, cmd.CASIndex = true, *p.CAS
	}
	res, err := s.propose(ctx, p.WriteOptions, shard.ForKey(p.Key, s.kvShards), cmd)
	if err != nil {
		return nil, err
	}
	return &rpc.KVPutResult{OK: res.OK, Index: res.Index}, nil
}

func (s *Server) kvDelete(ctx context.Context, p *rpc.KVDeleteParams) (*rpc.KVDeleteResult, error) {
	if !p.Recurse {
		if err := keyParam("key", p.Key); err != nil {
			return nil, err
		}
		cmd := &kv.Command{Op: kv.OpDelete, Key: p.Key}
		if p.CAS != nil {
			cmd.HasCAS, cmd.CASIndex = true, *p.CAS
		}
		res, err := s.propose(ctx, p.WriteOptions, shard.ForKey(p.Key, s.kvShards), cmd)
		if err != nil {
			return nil, err
		}
		return &rpc.KVDeleteResult{OK: res.OK, Index: res.Index}, nil
	}
	if p.CAS != nil {
		return nil, rpc.InvalidParams("field \"cas\": not allowed with recurse")
	}
	if err := prefixParam("key", p.Key); err != nil {
		return nil, err
	}
	// A prefix inside one folder is one shard and atomic; a wider one is
	// deleted shard by shard, each atomically.
	ids := s.shardsFor(p.Key)
	out := &rpc.KVDeleteResult{OK: true}
	idx := make([]uint64, len(ids))
	err := fanOut(len(ids), func(i int) error {
		res, err := s.propose(ctx, p.WriteOptions, ids[i], &kv.Command{Op: kv.OpDeleteTree, Key: p.Key})
		idx[i] = res.Index
		return err
	})
	if err != nil {
		return nil, err
	}
	out.Index = slices.Max(idx)
	return out, nil
}

var txnVerbs = map[string]bool{
	rpc.TxnSet: true, rpc.TxnGet: true, rpc.TxnDelete: true, rpc.TxnCAS: true,
	rpc.TxnDeleteCAS: true, rpc.TxnCheckIndex: true, rpc.TxnCheckNotExists: true,
}

func (s *Server) kvTxn(ctx context.Context, p *rpc.KVTxnParams) (*rpc.KVTxnResult, error) {
	if len(p.Ops) == 0 {
		return nil, rpc.InvalidParams("field \"ops\": at least one operation is required")
	}
	if len(p.Ops) > rpc.MaxTxnOps {
		return nil, rpc.InvalidParams("field \"ops\": %d operations, over the limit of %d", len(p.Ops), rpc.MaxTxnOps)
	}
	total := 0
	byShard := map[shard.ID][]int{}
	for i, op := range p.Ops {
		if !txnVerbs[op.Verb] {
			return nil, rpc.InvalidParams("field \"ops[%d].verb\": unknown verb %q (want set, get, delete, cas, delete-cas, check-index or check-not-exists)", i, op.Verb)
		}
		if err := keyParam(fmt.Sprintf("ops[%d].key", i), op.Key); err != nil {
			return nil, err
		}
		if err := s.valueParam(fmt.Sprintf("ops[%d].value", i), op.Value); err != nil {
			return nil, err
		}
		total += len(op.Value)
		id := shard.ForKey(op.Key, s.kvShards)
		byShard[id] = append(byShard[id], i)
	}
	if total > 4*s.cfg.MaxValueBytes {
		return nil, rpc.InvalidParams("field \"ops\": values total %d bytes, over the limit of %d", total, 4*s.cfg.MaxValueBytes)
	}
	if len(byShard) > 1 {
		return nil, rpc.InvalidParams("field \"ops\": the keys span %d shards (%s); a transaction must stay within one shard, which keys of one top-level folder always do",
			len(byShard), describeSpread(p.Ops, byShard))
	}
	var id shard.ID
	for k := range byShard {
		id = k
	}
	res, err := s.propose(ctx, p.WriteOptions, id, &kv.Command{Op: kv.OpTxn, Ops: p.Ops})
	if err != nil {
		return nil, err
	}
	if res.Txn == nil {
		return &rpc.KVTxnResult{OK: res.OK, Index: res.Index}, nil
	}
	out := *res.Txn
	out.Index = res.Index
	return &out, nil
}

// describeSpread names, per shard, the keys and their folders.
func describeSpread(ops []rpc.TxnOp, byShard map[shard.ID][]int) string {
	ids := make([]shard.ID, 0, len(byShard))
	for id := range byShard {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var parts []string
	for _, id := range ids {
		var keys []string
		for _, i := range byShard[id] {
			keys = append(keys, fmt.Sprintf("%q (folder %q)", ops[i].Key, shard.Folder(ops[i].Key)))
			if len(keys) == 3 && len(byShard[id]) > 3 {
				keys = append(keys, fmt.Sprintf("and %d more", len(byShard[id])-3))
				break
			}
		}
		parts = append(parts, fmt.Sprintf("%v: %s", id, strings.Join(keys, ", ")))
	}
	return strings.Join(parts, "; ")
}
