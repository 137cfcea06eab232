package catalog

import (
	"encoding/json"
	"errors"
	"fmt"

	"meridian/rpc"
)

// ErrMalformedCommand: a log entry that does not decode as a command.
var ErrMalformedCommand = errors.New("catalog: malformed command")

// Op says what a Command does. The names are part of the log format.
type Op string

const (
	// OpRegister upserts Node (with Address and NodeMeta), Services and
	// Checks; with Sync, the node's services and checks not listed are
	// removed (the gossip node check excepted); with NodeCheck, a node
	// without a gossip check gets one, passing (an agent registering itself
	// is alive, and a gossip member).
	OpRegister Op = "register"
	// OpDeregister removes Node with everything on it, or its service
	// ServiceID with that service's checks, or its check CheckID.
	OpDeregister Op = "deregister"
	// OpUpdateChecks sets the status and output of checks of Node.
	OpUpdateChecks Op = "update_checks"
	// OpNodeAlive registers Node at Address if missing and sets its gossip
	// check passing; OpNodeFailed sets it critical if the node exists.
	OpNodeAlive  Op = "node_alive"
	OpNodeFailed Op = "node_failed"
	// OpModulePut stores Module (a no-op if its digest is stored) and
	// points ModuleName, if set, at it. OpModuleDelete removes ModuleRef
	// (a digest or a name; NameOnly: just the name), refused while checks
	// use it unless Force. Neither names a node.
	OpModulePut    Op = "module_put"
	OpModuleDelete Op = "module_delete"
)

// ModulePayload is a module in a command: its bytes and what the server
// that validated them found.
type ModulePayload struct {
	Digest  string   `json:"digest"`
	ABI     int      `json:"abi"`
	Imports []string `json:"imports,omitempty"`
	Body    []byte   `json:"body"`
}

// commandVersion is the "v" of every command this code writes.
const commandVersion = 1

// Command is one catalog write, as proposed to Raft. Commands are rare next
// to KV writes, so they travel as JSON.
type Command struct {
	V         int               `json:"v"`
	Op        Op                `json:"op"`
	Node      string            `json:"node,omitempty"`
	Address   string            `json:"address,omitempty"`
	NodeMeta  map[string]string `json:"node_meta,omitempty"`
	Services  []rpc.Service     `json:"services,omitempty"`
	Checks    []rpc.Check       `json:"checks,omitempty"`
	Sync      bool              `json:"sync,omitempty"`
	NodeCheck bool              `json:"node_check,omitempty"`
	ServiceID string            `json:"service_id,omitempty"`
	CheckID   string            `json:"check_id,omitempty"`
	Status    []rpc.CheckStatus `json:"status,omitempty"`

	Module     *ModulePayload `json:"module,omitempty"`
	ModuleName string         `json:"module_name,omitempty"`
	ModuleRef  string         `json:"module_ref,omitempty"`
	NameOnly   bool           `json:"name_only,omitempty"`
	Force      bool           `json:"force,omitempty"`
}

// Marshal encodes c for the log.
func (c *Command) Marshal() []byte {
	cc := *c
	cc.V = commandVersion
	b, err := json.Marshal(&cc)
	if err != nil {
		panic(fmt.Sprintf("catalog: encode command: %v", err)) // only plain data inside
	}
	return b
}

// UnmarshalCommand decodes a log entry.
func UnmarshalCommand(b []byte) (*Command, error) {
	var c Command
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedCommand, err)
	}
	if c.V != commandVersion {
		return nil, fmt.Errorf("%w: version %d, this server reads %d", ErrMalformedCommand, c.V, commandVersion)
	}
	return &c, nil
}

// Result is the outcome of one applied command.
type Result struct {
	OK    bool   `json:"ok"`
	Index uint64 `json:"-"`
	// Err says why a command changed nothing.
	Err string `json:"err,omitempty"`
	// Missing lists the checks an OpUpdateChecks named that do not exist.
	Missing []string `json:"missing,omitempty"`
	// Existed: the module of an OpModulePut was already stored.
	Existed bool `json:"existed,omitempty"`
}

// Encode turns r into a dragonboat result: the index and, unless the
// command simply worked, a small JSON record.
func (r Result) Encode() (uint64, []byte) {
	if r.OK && r.Err == "" && len(r.Missing) == 0 && !r.Existed {
		return r.Index, nil
	}
	b, _ := json.Marshal(r)
	return r.Index, b
}

// DecodeResult reverses Encode.
func DecodeResult(value uint64, data []byte) (Result, error) {
	if len(data) == 0 {
		return Result{OK: true, Index: value}, nil
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return Result{}, fmt.Errorf("catalog: malformed result: %v", err)
	}
	r.Index = value
	return r, nil
}
