package rpc

import "encoding/json"

// Method names of the service catalog, health and agent APIs.
const (
	MethodCatalogRegister   = "catalog.register"
	MethodCatalogDeregister = "catalog.deregister"
	MethodCatalogNodes      = "catalog.nodes"
	MethodCatalogNode       = "catalog.node"
	MethodCatalogServices   = "catalog.services"
	MethodCatalogService    = "catalog.service"
	// MethodCatalogUpdateChecks is how edges report check status changes,
	// several at once.
	MethodCatalogUpdateChecks = "catalog.update_checks"

	MethodHealthService = "health.service"
	MethodHealthNode    = "health.node"
	MethodHealthChecks  = "health.checks"
	MethodHealthState   = "health.state"

	MethodAgentSelf              = "agent.self"
	MethodAgentMembers           = "agent.members"
	MethodAgentServices          = "agent.services"
	MethodAgentChecks            = "agent.checks"
	MethodAgentServiceRegister   = "agent.service.register"
	MethodAgentServiceDeregister = "agent.service.deregister"
	MethodAgentCheckRegister     = "agent.check.register"
	MethodAgentCheckDeregister   = "agent.check.deregister"
	MethodAgentCheckPass         = "agent.check.pass"
	MethodAgentCheckWarn         = "agent.check.warn"
	MethodAgentCheckFail         = "agent.check.fail"
)

// Health states of a check, worst last.
const (
	HealthPassing  = "passing"
	HealthWarning  = "warning"
	HealthCritical = "critical"
	// HealthAny is a health.state filter, not a state.
	HealthAny = "any"
)

// Check kinds.
const (
	CheckHTTP = "http"
	CheckTCP  = "tcp"
	CheckTTL  = "ttl"
	CheckWASM = "wasm"
)

// NodeCheckID is the node-level check fed by gossip: critical when the
// node's agent is declared dead, passing while it is alive.
const NodeCheckID = "meridian:node"

// Node is a machine in the catalog.
type Node struct {
	Node        string            `json:"node"`
	Address     string            `json:"address"`
	Meta        map[string]string `json:"meta,omitempty"`
	CreateIndex uint64            `json:"create_index,omitempty"`
	ModifyIndex uint64            `json:"modify_index,omitempty"`
}

// Service is one instance of a service on a node.
type Service struct {
	// ID is unique on its node; it defaults to Name.
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Tags    []string          `json:"tags,omitempty"`
	Address string            `json:"address,omitempty"` // "" = the node's
	Port    int               `json:"port,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`

	CreateIndex uint64 `json:"create_index,omitempty"`
	ModifyIndex uint64 `json:"modify_index,omitempty"`
}

// CheckDefinition says how an edge runs a check. It is what a service
// definition file or agent.check.register holds.
type CheckDefinition struct {
	// ID is unique on its node; it defaults to "service:<service id>" for
	// a service's only check, "service:<service id>:<n>" for several, or
	// Name for a node-level check.
	ID        string `json:"id,omitempty"`
	Name      string `json:"name"`
	ServiceID string `json:"service_id,omitempty"` // "" = node-level
	Kind      string `json:"kind"`                 // http, tcp, ttl, wasm
	Notes     string `json:"notes,omitempty"`

	Interval Duration `json:"interval,omitempty"` // http, tcp, wasm
	Timeout  Duration `json:"timeout,omitempty"`  // default 10s

	// http: the URL, its method (GET), headers, and whether to skip TLS
	// certificate checks.
	HTTP          string              `json:"http,omitempty"`
	Method        string              `json:"method,omitempty"`
	Header        map[string][]string `json:"header,omitempty"`
	Body          string              `json:"body,omitempty"`
	TLSSkipVerify bool                `json:"tls_skip_verify,omitempty"`
	// tcp: host:port to connect to.
	TCP string `json:"tcp,omitempty"`
	// wasm: the module (its sha256 digest in hex, or a name that points at
	// one, see checks.module.submit), the JSON arguments it reads, the
	// network targets it may reach (URL prefixes, host:port patterns, DNS
	// names; docs/wasm-abi.md), and limits (0 = the edge's default).
	Module          string          `json:"module,omitempty"`
	Args            json.RawMessage `json:"args,omitempty"`
	Grants          []string        `json:"grants,omitempty"`
	MemoryPages     uint32          `json:"memory_pages,omitempty"`
	MaxNetworkBytes int64           `json:"max_network_bytes,omitempty"`
	// ttl: the check turns critical unless updated within TTL.
	TTL Duration `json:"ttl,omitempty"`

	// Status is the initial status (default critical).
	Status                  string   `json:"status,omitempty"`
	SuccessBeforePassing    int      `json:"success_before_passing,omitempty"`
	FailuresBeforeCritical  int      `json:"failures_before_critical,omitempty"`
	DeregisterCriticalAfter Duration `json:"deregister_critical_after,omitempty"`
}

// Check is a check's state in the catalog.
type Check struct {
	Node        string `json:"node"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	Kind        string `json:"kind,omitempty"`
	Status      string `json:"status"`
	Output      string `json:"output,omitempty"`
	Notes       string `json:"notes,omitempty"`
	ServiceID   string `json:"service_id,omitempty"`
	ServiceName string `json:"service_name,omitempty"`
	// Module is a wasm check's module reference (digest or name): what
	// checks.module.delete looks for.
	Module      string `json:"module,omitempty"`
	CreateIndex uint64 `json:"create_index,omitempty"`
	ModifyIndex uint64 `json:"modify_index,omitempty"`
}

// CheckStatus is a status report from an edge: one check's new status.
type CheckStatus struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Output string `json:"output,omitempty"`
}

// ServiceInstance is one instance of a service with its node and the
// checks that decide its health (node-level and its own).
type ServiceInstance struct {
	Node    Node    `json:"node"`
	Service Service `json:"service"`
	Checks  []Check `json:"checks"`
}

// CatalogRegisterParams registers or updates a node and, optionally, one
// service and checks on it. Checks without ServiceID are node-level; the
// Service's checks name it. Existing services and checks of the node not
// named are kept unless Sync is set, which makes the node's services and
// checks exactly the ones given (how an edge's full sync replaces what
// someone else changed). Agent is set by a Meridian agent registering its
// own node: the node is a LAN gossip member, so it gets a passing gossip
// check (NodeCheckID) if it has none, and from then on the servers set it
// critical when gossip declares the node dead or never learns of it.
type CatalogRegisterParams struct {
	Node     string            `json:"node"`
	Address  string            `json:"address"`
	NodeMeta map[string]string `json:"node_meta,omitempty"`
	Services []Service         `json:"services,omitempty"`
	Checks   []Check           `json:"checks,omitempty"`
	Sync     bool              `json:"sync,omitempty"`
	Agent    bool              `json:"agent,omitempty"`
	WriteOptions
}

// CatalogDeregisterParams removes a node with everything on it, or one of
// its services (with its checks), or one check.
type CatalogDeregisterParams struct {
	Node      string `json:"node"`
	ServiceID string `json:"service_id,omitempty"`
	CheckID   string `json:"check_id,omitempty"`
	WriteOptions
}

// CheckUpdateParams sets the status of several checks of one node at
// once: how edges report changes, batched.
type CheckUpdateParams struct {
	Node   string        `json:"node"`
	Checks []CheckStatus `json:"checks"`
	WriteOptions
}

// WriteResult answers catalog writes.
type WriteResult struct {
	OK    bool   `json:"ok"`
	Index uint64 `json:"index"`
}

type CatalogNodesParams struct {
	ReadOptions
}

type CatalogNodesResult struct {
	Nodes []Node `json:"nodes"`
	ReadMeta
}

type CatalogNodeParams struct {
	Node string `json:"node"`
	ReadOptions
}

type CatalogNodeResult struct {
	Node     *Node     `json:"node"`
	Services []Service `json:"services"`
	ReadMeta
}

type CatalogServicesParams struct {
	ReadOptions
}

// CatalogServicesResult maps each service name to the union of its tags.
type CatalogServicesResult struct {
	Services map[string][]string `json:"services"`
	ReadMeta
}

type CatalogServiceParams struct {
	Name string `json:"name"`
	Tag  string `json:"tag,omitempty"`
	ReadOptions
}

// CatalogServiceEntry is a service instance without its checks.
type CatalogServiceEntry struct {
	Node    Node    `json:"node"`
	Service Service `json:"service"`
}

type CatalogServiceResult struct {
	Instances []CatalogServiceEntry `json:"instances"`
	ReadMeta
}

type HealthServiceParams struct {
	Name string `json:"name"`
	Tag  string `json:"tag,omitempty"`
	// PassingOnly (default true) keeps only instances whose checks, the
	// node's included, are all passing; false returns every instance.
	PassingOnly *bool `json:"passing_only,omitempty"`
	ReadOptions
}

type HealthServiceResult struct {
	Instances []ServiceInstance `json:"instances"`
	ReadMeta
}

type HealthNodeParams struct {
	Node string `json:"node"`
	ReadOptions
}

type HealthChecksParams struct {
	Service string `json:"service"`
	ReadOptions
}

type HealthStateParams struct {
	State string `json:"state"` // passing, warning, critical or any
	ReadOptions
}

type HealthChecksResult struct {
	Checks []Check `json:"checks"`
	ReadMeta
}

// ServiceDefinition is what agent.service.register takes and what a
// service definition file in an edge's -config-dir holds: a service and
// its checks. A file may hold only node-level checks (no service).
type ServiceDefinition struct {
	Service *Service          `json:"service,omitempty"`
	Checks  []CheckDefinition `json:"checks,omitempty"`
}

// AgentIDParams names a local service or check.
type AgentIDParams struct {
	ID string `json:"id"`
}

type AgentCheckRegisterParams struct {
	Check CheckDefinition `json:"check"`
}

// AgentCheckUpdateParams reports a TTL check's result (agent.check.pass,
// warn, fail).
type AgentCheckUpdateParams struct {
	ID     string `json:"id"`
	Output string `json:"output,omitempty"`
}

// OKResult answers agent calls that change local state.
type OKResult struct {
	OK bool `json:"ok"`
}

type AgentSelfResult struct {
	Node    string   `json:"node"`
	DC      string   `json:"dc"`
	Role    string   `json:"role"`
	Version string   `json:"version"`
	Address string   `json:"address"`
	Servers []string `json:"servers"` // the RPC addresses calls are forwarded to
}

// Member is a gossip pool member.
type Member struct {
	Name    string `json:"name"`
	Addr    string `json:"addr"` // gossip address
	Role    string `json:"role"`
	DC      string `json:"dc"`
	Status  string `json:"status"` // alive, suspect, dead, left
	RPCAddr string `json:"rpc_addr,omitempty"`
}

type AgentMembersParams struct {
	WAN bool `json:"wan,omitempty"`
}

type AgentMembersResult struct {
	Members []Member `json:"members"`
}

// AgentService is a local service with the state of its checks.
type AgentService struct {
	Service Service `json:"service"`
	Checks  []Check `json:"checks"`
}

type AgentServicesResult struct {
	Services []AgentService `json:"services"`
}

type AgentChecksResult struct {
	Checks []Check `json:"checks"`
}
