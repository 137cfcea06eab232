package servers

import (
	"fmt"
	"math/rand/v2"
	"net/http"

	"meridian/rpc"
)

// ModuleUpload serves PUT /v1/modules on an edge by streaming the body to
// a live server's PUT /v1/modules: the edge never holds the module. A
// body over maxBytes is refused before it is read (Content-Length) or cut
// off as soon as it crosses the limit.
func (s *Set) ModuleUpload(maxBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rpc.CheckUpload(w, r, maxBytes) {
			return
		}
		addrs := s.Addrs()
		if len(addrs) == 0 {
			rpc.WriteUploadError(w, rpc.ToError(fmt.Errorf("edge: %w: no live server known yet", rpc.ErrUnavailable)))
			return
		}
		addr := addrs[rand.IntN(len(addrs))]
		if err := rpc.ForwardUpload(w, r, addr, r.URL.RawQuery, nil, maxBytes); err != nil {
			rpc.WriteUploadError(w, rpc.ToError(fmt.Errorf("edge: %w: upload to server %s: %v", rpc.ErrUnavailable, addr, err)))
		}
	})
}
