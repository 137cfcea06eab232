package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"

	"meridian/rpc"
)

// WASM check modules live in the system shard beside the catalog: a
// module by its sha256 digest, and names pointing at digests. A module's
// bytes are validated by the server that takes the submission (it
// compiles them); the machine only checks that the digest is the bytes'.

// idxModules is the index of the module table (modules and names).
const idxModules = "t\x00modules"

// StoredModule is one module with its bytes. Shared: never mutate.
type StoredModule struct {
	rpc.Module
	Body []byte `json:"body"`
}

// ErrModuleInUse starts the error of a module delete refused because
// registered checks use the module.
const ErrModuleInUse = "catalog: module in use"

// ErrModuleNotFound starts the error of a module operation on a digest or
// name that is not stored.
const ErrModuleNotFound = "catalog: no module"

// Digest is the hex sha256 of body, as modules are named.
func Digest(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// modulePut stores c.Module (idempotent) and points c.ModuleName at it.
func (b *Batch) modulePut(index uint64, c *Command) (existed bool, err error) {
	m := c.Module
	if m == nil || len(m.Body) == 0 {
		return false, fmt.Errorf("catalog: module put without a module")
	}
	if Digest(m.Body) != m.Digest {
		return false, fmt.Errorf("catalog: module digest %q is not the sha256 of its %d bytes", m.Digest, len(m.Body))
	}
	_, existed = b.modules.Get([]byte(m.Digest))
	if !existed {
		rec := &StoredModule{Module: rpc.Module{Digest: m.Digest, Size: len(m.Body), ABI: m.ABI,
			Imports: m.Imports, CreateIndex: index, ModifyIndex: index}, Body: m.Body}
		b.modules.Insert([]byte(m.Digest), rec)
	}
	if c.ModuleName != "" {
		if cur, ok := b.moduleNames.Get([]byte(c.ModuleName)); !ok || cur != m.Digest {
			b.moduleNames.Insert([]byte(c.ModuleName), m.Digest)
			b.touchModule(index, m.Digest)
			if ok {
				b.touchModule(index, cur)
			}
		}
	}
	if !existed {
		b.touch(index, idxModules)
	}
	return existed, nil
}

// touchModule moves the module's modify index and the table index.
func (b *Batch) touchModule(index uint64, digest string) {
	if rec, ok := b.modules.Get([]byte(digest)); ok {
		cp := *rec
		cp.ModifyIndex = index
		b.modules.Insert([]byte(digest), &cp)
	}
	b.touch(index, idxModules)
}

// moduleDelete removes c.ModuleRef: a name only (c.NameOnly), or the
// module it designates with every name pointing at it. Without c.Force, a
// module that a registered check names (by digest or by any of its names)
// stays.
func (b *Batch) moduleDelete(index uint64, c *Command) error {
	ref := c.ModuleRef
	digest := ref
	if !rpc.IsModuleDigest(ref) {
		d, ok := b.moduleNames.Get([]byte(ref))
		if !ok {
			return fmt.Errorf("%s named %q", ErrModuleNotFound, ref)
		}
		digest = d
		if c.NameOnly {
			b.moduleNames.Delete([]byte(ref))
			b.touchModule(index, digest)
			return nil
		}
	} else if c.NameOnly {
		return fmt.Errorf("catalog: name_only needs a module name, not the digest %q", ref)
	}
	if _, ok := b.modules.Get([]byte(digest)); !ok {
		return fmt.Errorf("%s with digest %q", ErrModuleNotFound, digest)
	}
	names := b.namesOf(digest)
	if !c.Force {
		refs := append([]string{digest}, names...)
		var users []string
		it := b.checks.Root().Iterator()
		for _, ch, ok := it.Next(); ok; _, ch, ok = it.Next() {
			if ch.Module != "" && slices.Contains(refs, ch.Module) {
				users = append(users, ch.Node+"/"+ch.ID)
			}
		}
		if len(users) > 0 {
			if len(users) > 10 {
				users = append(users[:10], fmt.Sprintf("and %d more", len(users)-10))
			}
			return fmt.Errorf("%s: %d check(s) use module %s: %s (delete them first, or force)",
				ErrModuleInUse, len(users), digest, strings.Join(users, ", "))
		}
	}
	for _, n := range names {
		b.moduleNames.Delete([]byte(n))
	}
	b.modules.Delete([]byte(digest))
	b.touch(index, idxModules)
	return nil
}

func (b *Batch) namesOf(digest string) []string {
	var out []string
	it := b.moduleNames.Root().Iterator()
	for k, d, ok := it.Next(); ok; k, d, ok = it.Next() {
		if d == digest {
			out = append(out, string(k))
		}
	}
	return out
}

// Modules lists every stored module (without bodies), by digest.
func (v *View) Modules() ([]rpc.Module, uint64, <-chan struct{}) {
	names := v.moduleNamesByDigest()
	out := make([]rpc.Module, 0, v.modules.Len())
	it := v.modules.Root().Iterator()
	for _, m, ok := it.Next(); ok; _, m, ok = it.Next() {
		mm := m.Module
		mm.Names = names[mm.Digest]
		out = append(out, mm)
	}
	idx, w := v.index(idxModules, idxModules)
	return out, idx, w
}

// Module finds a module by digest or name; nil if there is none.
func (v *View) Module(ref string) (*StoredModule, []string, uint64, <-chan struct{}) {
	idx, w := v.index(idxModules, idxModules)
	digest := ref
	if !rpc.IsModuleDigest(ref) {
		d, ok := v.moduleNames.Get([]byte(ref))
		if !ok {
			return nil, nil, idx, w
		}
		digest = d
	}
	m, ok := v.modules.Get([]byte(digest))
	if !ok {
		return nil, nil, idx, w
	}
	return m, v.moduleNamesByDigest()[digest], idx, w
}

func (v *View) moduleNamesByDigest() map[string][]string {
	out := map[string][]string{}
	it := v.moduleNames.Root().Iterator()
	for k, d, ok := it.Next(); ok; k, d, ok = it.Next() {
		out[d] = append(out[d], string(k))
	}
	for _, n := range out {
		sort.Strings(n)
	}
	return out
}
