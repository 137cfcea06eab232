package servers

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"

	"meridian/rpc"
)

// uploadClient carries module uploads to servers: no overall timeout (a
// large module on a slow link takes its time), the request's context
// bounds it.
var uploadClient = &http.Client{}

// ModuleUpload serves PUT /v1/modules on an edge by streaming the body to
// a live server's PUT /v1/modules: the edge never holds the module. A
// body over maxBytes is refused before it is read (Content-Length) or cut
// off as soon as it crosses the limit.
func (s *Set) ModuleUpload(maxBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut && r.Method != http.MethodPost {
			w.Header().Set("Allow", "PUT, POST")
			rpc.WriteUploadError(w, &rpc.Error{Code: rpc.CodeInvalidRequest, Message: fmt.Sprintf("%s %s: use PUT with the .wasm file as the body", r.Method, rpc.ModulesPath)})
			return
		}
		if r.ContentLength > maxBytes {
			w.Header().Set("Connection", "close")
			rpc.WriteUploadError(w, &rpc.Error{Code: rpc.CodeTooLarge, Message: fmt.Sprintf("module exceeds the limit of %d bytes", maxBytes)})
			return
		}
		addrs := s.Addrs()
		if len(addrs) == 0 {
			rpc.WriteUploadError(w, rpc.ToError(fmt.Errorf("edge: %w: no live server known yet", rpc.ErrUnavailable)))
			return
		}
		addr := addrs[rand.IntN(len(addrs))]
		if !strings.Contains(addr, "://") {
			addr = "http://" + addr
		}
		u := addr + rpc.ModulesPath
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPut, u, http.MaxBytesReader(w, r.Body, maxBytes))
		if err != nil {
			rpc.WriteUploadError(w, rpc.ToError(err))
			return
		}
		req.ContentLength = r.ContentLength
		req.Header.Set("Content-Type", "application/wasm")
		resp, err := uploadClient.Do(req)
		if err != nil {
			if strings.Contains(err.Error(), "http: request body too large") {
				rpc.WriteUploadError(w, &rpc.Error{Code: rpc.CodeTooLarge, Message: fmt.Sprintf("module exceeds the limit of %d bytes", maxBytes)})
				return
			}
			rpc.WriteUploadError(w, rpc.ToError(fmt.Errorf("edge: %w: upload to server %s: %v", rpc.ErrUnavailable, addr, err)))
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
	})
}
