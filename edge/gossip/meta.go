package gossip

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/hashicorp/memberlist"
)

// Role tells what a member does.
type Role string

// Roles of the members of a pool.
const (
	RoleServer Role = "server"
	RoleEdge   Role = "edge"
)

// Meta is the metadata a member gossips about itself. It is encoded as JSON
// and must fit memberlist.MetaMaxSize (512 bytes) once encoded.
type Meta struct {
	Role     Role              `json:"role"`
	DC       string            `json:"dc"`
	RPCAddr  string            `json:"rpc,omitempty"`    // host:port of JSON-RPC (http)
	DNSAddr  string            `json:"dns,omitempty"`    // host:port of the DNS server
	RaftAddr string            `json:"raft,omitempty"`   // servers only
	Version  string            `json:"ver,omitempty"`    // software version
	Expect   int               `json:"expect,omitempty"` // a server's -bootstrap-expect
	Tags     map[string]string `json:"tags,omitempty"`   // room for later
}

// Encode returns the wire form of m. It fails with ErrMetaTooLarge if the
// result does not fit memberlist.MetaMaxSize.
func (m Meta) Encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil { // cannot happen with these field types
		return nil, fmt.Errorf("gossip: encode metadata: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, limit is %d", ErrMetaTooLarge, len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

// DecodeMeta decodes metadata gossiped by another member. Unknown fields are
// ignored so that newer members can add fields; nothing is validated beyond
// the JSON syntax, so a role this version does not know still decodes.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return Meta{}, fmt.Errorf("%w: empty", ErrBadMeta)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("%w: %w", ErrBadMeta, err)
	}
	return m, nil
}

// validate checks what a member says about itself and returns its encoding.
func (m Meta) validate() ([]byte, error) {
	switch m.Role {
	case RoleServer, RoleEdge:
	default:
		return nil, fmt.Errorf("%w: meta role %q, want %q or %q", ErrInvalidConfig, m.Role, RoleServer, RoleEdge)
	}
	if m.DC == "" {
		return nil, fmt.Errorf("%w: meta dc is required", ErrInvalidConfig)
	}
	if m.Expect < 0 {
		return nil, fmt.Errorf("%w: meta expect %d is negative", ErrInvalidConfig, m.Expect)
	}
	if m.Role != RoleServer && (m.RaftAddr != "" || m.Expect != 0) {
		return nil, fmt.Errorf("%w: meta raft address and expect are for servers only", ErrInvalidConfig)
	}
	b, err := m.Encode()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return b, nil
}

// clone returns a copy of m that shares no map with it.
func (m Meta) clone() Meta {
	m.Tags = maps.Clone(m.Tags)
	return m
}
