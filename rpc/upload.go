package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// UploadAnswer is the JSON body of every answer of PUT /v1/modules: the
// result, or a JSON-RPC error object (with the HTTP status saying the same).
type UploadAnswer struct {
	*ModuleSubmitResult
	Error *Error `json:"error,omitempty"`
}

// ModuleUploadHandler serves PUT /v1/modules[?name=NAME] with the .wasm
// file as the body: a body over maxBytes is refused with 413 before it is
// read (Content-Length) or as soon as the limit is crossed (chunked), so a
// huge upload never sits in memory. The bytes then go to submit, as
// checks.module.submit would take them.
func ModuleUploadHandler(maxBytes int64, submit func(context.Context, *ModuleSubmitParams) (*ModuleSubmitResult, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !CheckUpload(w, r, maxBytes) {
			return
		}
		tooBig := tooLarge(maxBytes)
		var buf bytes.Buffer
		if r.ContentLength > 0 {
			buf.Grow(int(r.ContentLength))
		}
		if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBytes)); err != nil {
			if errors.As(err, new(*http.MaxBytesError)) {
				WriteUploadError(w, tooBig)
				return
			}
			WriteUploadError(w, &Error{Code: CodeInvalidRequest, Message: "reading the module: " + err.Error()})
			return
		}
		if buf.Len() == 0 {
			WriteUploadError(w, &Error{Code: CodeInvalidParams, Message: "empty body: send the .wasm file"})
			return
		}
		res, err := submit(r.Context(), &ModuleSubmitParams{Module: buf.Bytes(), Name: r.URL.Query().Get("name")})
		if err != nil {
			WriteUploadError(w, ToError(err))
			return
		}
		writeUpload(w, http.StatusOK, UploadAnswer{ModuleSubmitResult: res})
	})
}

// CheckUpload refuses, and answers, an upload with the wrong method or a
// declared length over maxBytes; true means go on.
func CheckUpload(w http.ResponseWriter, r *http.Request, maxBytes int64) bool {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		w.Header().Set("Allow", "PUT, POST")
		WriteUploadError(w, &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("%s %s: use PUT with the .wasm file as the body", r.Method, ModulesPath)})
		return false
	}
	if r.ContentLength > maxBytes {
		w.Header().Set("Connection", "close") // do not read the rest
		WriteUploadError(w, tooLarge(maxBytes))
		return false
	}
	return true
}

func tooLarge(maxBytes int64) *Error {
	return &Error{Code: CodeTooLarge, Message: fmt.Sprintf("module exceeds the limit of %d bytes", maxBytes)}
}

// uploadClient carries forwarded uploads: no overall timeout (a large
// module on a slow link takes its time), the request's context bounds it.
var uploadClient = &http.Client{}

// ForwardUpload streams the upload r (already checked with CheckUpload)
// to PUT /v1/modules at addr (host:port or a URL), with query as its query
// and header added, and copies the answer to w: the module passes through
// and is never held, and a body over maxBytes is cut off as it crosses the
// limit. It returns an error, having answered nothing, only when addr
// could not be reached, for the caller to say so in its own words.
func ForwardUpload(w http.ResponseWriter, r *http.Request, addr, query string, header http.Header, maxBytes int64) error {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u := addr + ModulesPath
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPut, u, http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		return err
	}
	req.ContentLength = r.ContentLength
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/wasm")
	resp, err := uploadClient.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "http: request body too large") {
			WriteUploadError(w, tooLarge(maxBytes))
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
	return nil
}

// WriteUploadError answers an upload with e and the HTTP status of its code.
func WriteUploadError(w http.ResponseWriter, e *Error) {
	status := http.StatusInternalServerError
	switch e.Code {
	case CodeInvalidParams, CodeInvalidRequest, CodeParseError:
		status = http.StatusBadRequest
	case CodeTooLarge:
		status = http.StatusRequestEntityTooLarge
	case CodeNotFound:
		status = http.StatusNotFound
	case CodeNoLeader, CodeUnavailable, CodeUnknownDC:
		status = http.StatusServiceUnavailable
	case CodeTimeout:
		status = http.StatusGatewayTimeout
	}
	if e.Code == CodeInvalidRequest && w.Header().Get("Allow") != "" {
		status = http.StatusMethodNotAllowed
	}
	writeUpload(w, status, UploadAnswer{Error: e})
}

func writeUpload(w http.ResponseWriter, status int, a UploadAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(a)
}

// DecodeUploadAnswer reads the answer of PUT /v1/modules.
func DecodeUploadAnswer(resp *http.Response) (*ModuleSubmitResult, error) {
	var a UploadAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&a); err != nil {
		return nil, fmt.Errorf("PUT %s: HTTP %s with an unreadable answer: %v", ModulesPath, resp.Status, err)
	}
	if a.Error != nil {
		return nil, a.Error
	}
	if a.ModuleSubmitResult == nil {
		return nil, fmt.Errorf("PUT %s: HTTP %s without a result", ModulesPath, resp.Status)
	}
	return a.ModuleSubmitResult, nil
}
