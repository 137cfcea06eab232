package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"meridian/rpc"
	"meridian/server/catalog"
	"meridian/server/shard"
	"meridian/wasm"
)

func (s *Server) registerModules(api *rpc.Server) {
	rpc.Register(api, rpc.MethodModuleSubmit, "Store a WASM check module (base64); it is validated first. Returns its digest, size and ABI version; name, if given, points at it.", s.SubmitModule)
	rpc.Register(api, rpc.MethodModuleList, "Every stored module (without its bytes). Blocking.", s.moduleList)
	rpc.Register(api, rpc.MethodModuleGet, "One module by digest or name; with_body adds its bytes. Blocking.", s.moduleGet)
	rpc.Register(api, rpc.MethodModuleDelete, "Delete a module (refused while checks use it, unless force), or with name_only just a name.", s.moduleDelete)
}

// validator compiles submitted modules to validate them. It is made on
// first use: a server that never sees a module never pays for wazero.
type validator struct {
	once sync.Once
	rt   *wasm.Runtime
	err  error
}

func (s *Server) validate(ctx context.Context, body []byte) (wasm.ModuleInfo, error) {
	v := &s.validator
	v.once.Do(func() {
		v.rt, v.err = wasm.New(context.Background(), wasm.Config{
			MaxModuleBytes: s.cfg.MaxModuleBytes,
			Logger:         s.log.With("component", "wasm"),
		})
	})
	if v.err != nil {
		return wasm.ModuleInfo{}, fmt.Errorf("server: WASM runtime: %w", v.err)
	}
	return v.rt.Validate(ctx, body)
}

func (s *Server) closeValidator() {
	if s.validator.rt != nil {
		_ = s.validator.rt.Close(context.Background())
	}
}

// SubmitModule is checks.module.submit; the raw upload (PUT /v1/modules)
// calls it too.
func (s *Server) SubmitModule(ctx context.Context, p *rpc.ModuleSubmitParams) (*rpc.ModuleSubmitResult, error) {
	if len(p.Module) == 0 {
		return nil, rpc.InvalidParams("field \"module\": give the .wasm file, base64-encoded")
	}
	if len(p.Module) > s.cfg.MaxModuleBytes {
		return nil, fmt.Errorf("%w: module of %d bytes exceeds the limit of %d bytes", rpc.ErrTooLarge, len(p.Module), s.cfg.MaxModuleBytes)
	}
	if p.Name != "" {
		if err := rpc.ValidateModuleName("name", p.Name); err != nil {
			return nil, err
		}
	}
	info, err := s.validate(ctx, p.Module)
	if err != nil {
		if errors.Is(err, wasm.ErrTooLarge) {
			return nil, fmt.Errorf("%w: %v", rpc.ErrTooLarge, err)
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, wasm.ErrClosed) {
			return nil, err
		}
		return nil, rpc.InvalidParams("field \"module\": %v", err)
	}
	cmd := &catalog.Command{Op: catalog.OpModulePut, ModuleName: p.Name,
		Module: &catalog.ModulePayload{Digest: info.Digest, ABI: info.ABIVersion, Imports: info.Imports, Body: p.Module}}
	res, err := s.proposeSystem(ctx, p.WriteOptions, cmd)
	if err != nil {
		return nil, err
	}
	s.log.Info("module stored", "digest", info.Digest, "size", info.Size, "name", p.Name, "new", !res.Existed)
	return &rpc.ModuleSubmitResult{Digest: info.Digest, Size: info.Size, ABI: info.ABIVersion,
		Name: p.Name, Created: !res.Existed, Index: res.Index}, nil
}

// ModuleUploadHandler serves PUT /v1/modules on a server.
func (s *Server) ModuleUploadHandler() http.Handler {
	return rpc.ModuleUploadHandler(int64(s.cfg.MaxModuleBytes), s.SubmitModule)
}

func (s *Server) moduleList(ctx context.Context, p *rpc.ModuleListParams) (*rpc.ModuleListResult, error) {
	out := &rpc.ModuleListResult{}
	meta, err := s.readCatalog(ctx, p.ReadOptions, func(v *catalog.View) (idx uint64, w <-chan struct{}) {
		out.Modules, idx, w = v.Modules()
		return
	})
	out.ReadMeta = meta
	return out, err
}

func (s *Server) moduleGet(ctx context.Context, p *rpc.ModuleGetParams) (*rpc.ModuleGetResult, error) {
	if err := rpc.ValidateModuleRef("module", p.Module); err != nil {
		return nil, err
	}
	out := &rpc.ModuleGetResult{}
	var found *catalog.StoredModule
	meta, err := s.readCatalog(ctx, p.ReadOptions, func(v *catalog.View) (idx uint64, w <-chan struct{}) {
		var names []string
		found, names, idx, w = v.Module(p.Module)
		if found != nil {
			out.Module = found.Module
			out.Names = names
		}
		return
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, rpc.ErrNotFoundf("no module %q", p.Module)
	}
	if p.WithBody {
		out.Body = found.Body
	}
	out.ReadMeta = meta
	return out, nil
}

func (s *Server) moduleDelete(ctx context.Context, p *rpc.ModuleDeleteParams) (*rpc.ModuleDeleteResult, error) {
	if err := rpc.ValidateModuleRef("module", p.Module); err != nil {
		return nil, err
	}
	res, err := s.proposeSystem(ctx, p.WriteOptions, &catalog.Command{Op: catalog.OpModuleDelete,
		ModuleRef: p.Module, NameOnly: p.Name, Force: p.Force})
	if err != nil {
		return nil, err
	}
	return &rpc.ModuleDeleteResult{Deleted: true, Index: res.Index}, nil
}

// proposeSystem proposes a command to the system shard and turns the
// machine's refusal into the API's errors.
func (s *Server) proposeSystem(ctx context.Context, opts rpc.WriteOptions, cmd *catalog.Command) (catalog.Result, error) {
	if err := s.checkDC(opts.DC); err != nil {
		return catalog.Result{}, err
	}
	cctx, cancel, err := s.callCtx(ctx, opts.Timeout)
	if err != nil {
		return catalog.Result{}, err
	}
	defer cancel()
	raw, err := s.raft.Propose(cctx, shard.System, cmd.Marshal())
	if err != nil {
		return catalog.Result{}, err
	}
	res, err := catalog.DecodeResult(raw.Value, raw.Data)
	if err != nil {
		return catalog.Result{}, err
	}
	switch {
	case strings.HasPrefix(res.Err, catalog.ErrModuleNotFound):
		return res, rpc.ErrNotFoundf("%s", strings.TrimPrefix(res.Err, "catalog: "))
	case res.Err != "":
		return res, rpc.InvalidParams("%s", strings.TrimPrefix(res.Err, "catalog: "))
	}
	return res, nil
}
