package raftnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/client"
	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"meridian/rpc"
	"meridian/server/shard"
)

// ErrLeaderChanged: the shard's leader changed while a write was in flight,
// so it may or may not have been applied. Retryable (as a timeout is).
var ErrLeaderChanged = fmt.Errorf("raftnode: leader changed while the write was in flight; it may or may not have been applied: %w", rpc.ErrTimeout)

// Host is one server's NodeHost with its shard replicas.
type Host struct {
	cfg    Config
	nh     *dragonboat.NodeHost
	log    *slog.Logger
	shards map[shard.ID]*replica

	started  time.Time
	stop     chan struct{}
	wg       sync.WaitGroup
	closeOne sync.Once
}

type replica struct {
	id      shard.ID
	m       Machine
	session *client.Session

	reads readRounds // linearizable reads, coalesced

	mu          sync.Mutex
	leaderGen   chan struct{} // closed and replaced when the leader changes
	leader      shard.ReplicaID
	lastContact time.Time
}

// New starts a NodeHost and every configured shard replica. It returns once
// the replicas are started, not when they have leaders: see WaitReady.
func New(cfg Config) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	peers := make(map[shard.ReplicaID]string, len(cfg.Peers))
	for k, v := range cfg.Peers {
		peers[k] = v
	}
	cfg.Peers = peers
	cfg.Shards = append([]shard.ID(nil), cfg.Shards...)

	h := &Host{
		cfg:     cfg,
		log:     cfg.Logger,
		shards:  make(map[shard.ID]*replica, len(cfg.Shards)),
		started: time.Now(),
		stop:    make(chan struct{}),
	}
	for _, id := range cfg.Shards {
		h.shards[id] = &replica{id: id, m: cfg.Machine(id), leaderGen: make(chan struct{})}
	}

	nhc := config.NodeHostConfig{
		NodeHostDir:       filepath.Join(cfg.DataDir, "raft"),
		RTTMillisecond:    uint64(cfg.RTT / time.Millisecond),
		RaftAddress:       cfg.RaftAddr,
		RaftEventListener: (*events)(h),
		DeploymentID:      1,
	}
	switch cfg.LogDBProfile {
	case "tiny":
		nhc.Expert.LogDB = config.GetTinyMemLogDBConfig()
	case "small":
		nhc.Expert.LogDB = config.GetSmallMemLogDBConfig()
	default:
		nhc.Expert.LogDB = config.GetDefaultLogDBConfig()
	}
	nhc.Expert.LogDB.Shards = cfg.LogDBShards
	nhc.Expert.Engine = config.GetDefaultEngineConfig()
	nhc.Expert.Engine.ExecShards = cfg.StepWorkers
	if cfg.testFS != nil {
		nhc.Expert.FS = cfg.testFS
	}
	nh, err := dragonboat.NewNodeHost(nhc)
	if err != nil {
		return nil, fmt.Errorf("raftnode: start NodeHost at %s: %w", cfg.DataDir, err)
	}
	h.nh = nh

	members := make(map[uint64]dragonboat.Target, len(cfg.Peers))
	for id, addr := range cfg.Peers {
		members[uint64(id)] = addr
	}
	restarted := map[shard.ID]bool{}
	for _, id := range cfg.Shards {
		rc := config.Config{
			ShardID:            uint64(id),
			ReplicaID:          uint64(cfg.ReplicaID),
			HeartbeatRTT:       cfg.HeartbeatRTT,
			ElectionRTT:        cfg.ElectionRTT,
			CheckQuorum:        true,
			PreVote:            true,
			SnapshotEntries:    cfg.SnapshotEntries,
			CompactionOverhead: cfg.CompactionOverhead,
		}
		initial, join := members, false
		switch {
		case nh.HasNodeInfo(uint64(id), uint64(cfg.ReplicaID)):
			initial = nil // restart: membership comes from the log
			restarted[id] = true
		case cfg.Join:
			// Added to the running shard by its leader (AddServer); the
			// log and a snapshot bring it up to date.
			initial, join = nil, true
		default:
			if _, ok := cfg.Peers[cfg.ReplicaID]; !ok {
				nh.Close()
				return nil, fmt.Errorf("raftnode: replica %d is not among the peers %v", cfg.ReplicaID, cfg.Peers)
			}
		}
		r := h.shards[id]
		create := func(uint64, uint64) sm.IConcurrentStateMachine { return &fsm{m: r.m} }
		if err := nh.StartConcurrentReplica(initial, join, create, rc); err != nil {
			nh.Close()
			return nil, fmt.Errorf("raftnode: start %v: %w", id, err)
		}
		r.session = nh.GetNoOPSession(uint64(id))
	}
	if err := h.checkApplied(restarted); err != nil {
		nh.Close()
		return nil, err
	}
	h.wg.Add(2)
	go h.contactLoop()
	go h.appliedLoop()
	if cfg.BalanceInterval > 0 {
		h.wg.Add(1)
		go h.balanceLoop()
	}
	return h, nil
}

// WaitReady blocks until every shard has a leader, or ctx ends.
func (h *Host) WaitReady(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		missing := 0
		for id := range h.shards {
			if _, _, ok, _ := h.nh.GetLeaderID(uint64(id)); !ok {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("raftnode: %d of %d shards have no leader: %w", missing, len(h.shards), ctx.Err())
		case <-t.C:
		}
	}
}

// Close stops every replica and the NodeHost. Safe to call twice.
func (h *Host) Close() {
	h.closeOne.Do(func() {
		close(h.stop)
		h.wg.Wait()
		h.nh.Close()
		if err := h.saveApplied(h.appliedNow()); err != nil {
			h.log.Warn("recording the applied indexes", "err", err)
		}
	})
}

func (h *Host) replica(id shard.ID) (*replica, error) {
	r, ok := h.shards[id]
	if !ok {
		return nil, fmt.Errorf("raftnode: no shard %d on this server", id)
	}
	return r, nil
}

func (r *replica) gen() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leaderGen
}

// events receives dragonboat's leader changes.
type events Host

func (e *events) LeaderUpdated(info raftio.LeaderInfo) {
	r, ok := e.shards[shard.ID(info.ShardID)]
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.leader
	r.leader = shard.ReplicaID(info.LeaderID)
	if r.leader != prev && r.leader != 0 {
		e.log.Info("shard leader", "shard", info.ShardID, "leader", info.LeaderID, "term", info.Term,
			"self", info.LeaderID == info.ReplicaID)
	}
	// Events arrive a little after dragonboat acts on them. Going from no
	// leader to one loses nothing (proposals made with no leader are
	// dropped and retried), so only losing a known leader fails the
	// writes in flight.
	if prev != 0 && prev != r.leader {
		close(r.leaderGen)
		r.leaderGen = make(chan struct{})
	}
}

// retryable reports errors dragonboat returns before a proposal or read
// entered the log: trying again cannot apply anything twice.
func notAccepted(err error) bool {
	return errors.Is(err, dragonboat.ErrShardNotReady) || errors.Is(err, dragonboat.ErrSystemBusy) ||
		errors.Is(err, dragonboat.ErrShardNotInitialized)
}

func timeoutFor(ctx context.Context) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return 10 * time.Second
	}
	return time.Until(dl)
}

// backoff waits a little before another try; it returns false when the try
// would outlive ctx or the leader wait.
func (h *Host) backoff(ctx context.Context, started time.Time, attempt int) bool {
	d := time.Duration(attempt+1) * 10 * time.Millisecond
	if d > 100*time.Millisecond {
		d = 100 * time.Millisecond
	}
	if time.Since(started)+d > h.cfg.LeaderWait {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-h.stop:
		return false
	case <-t.C:
		return true
	}
}

func (h *Host) mapErr(id shard.ID, err error) error {
	switch {
	case notAccepted(err):
		return fmt.Errorf("%v: %w", id, rpc.ErrNoLeader)
	case errors.Is(err, dragonboat.ErrClosed), errors.Is(err, dragonboat.ErrShardClosed):
		return fmt.Errorf("%v: %w", id, rpc.ErrUnavailable)
	case errors.Is(err, dragonboat.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%v: %w", id, rpc.ErrTimeout)
	case errors.Is(err, dragonboat.ErrTimeoutTooSmall):
		return fmt.Errorf("%v: deadline too close to try: %w", id, rpc.ErrTimeout)
	case errors.Is(err, dragonboat.ErrPayloadTooBig):
		return fmt.Errorf("%v: command too large: %w", id, rpc.ErrTooLarge)
	}
	return fmt.Errorf("%v: %w", id, err)
}

// Propose replicates cmd through shard id's log and returns what the state
// machine made of it. A write that may or may not have been applied (timeout,
// leader change) fails with an error wrapping rpc.ErrTimeout; one that
// cannot get a leader within LeaderWait wraps rpc.ErrNoLeader.
func (h *Host) Propose(ctx context.Context, id shard.ID, cmd []byte) (Result, error) {
	r, err := h.replica(id)
	if err != nil {
		return Result{}, err
	}
	started := time.Now()
	for attempt := 0; ; attempt++ {
		gen := r.gen()
		rs, err := h.nh.Propose(r.session, cmd, timeoutFor(ctx))
		if err != nil {
			if notAccepted(err) && h.backoff(ctx, started, attempt) {
				continue
			}
			return Result{}, h.mapErr(id, err)
		}
		select {
		case res := <-rs.ResultC():
			rs.Release()
			switch {
			case res.Completed():
				v := res.GetResult()
				return Result{Value: v.Value, Data: v.Data}, nil
			case res.Dropped():
				if h.backoff(ctx, started, attempt) {
					continue
				}
				return Result{}, fmt.Errorf("%v: %w", id, rpc.ErrNoLeader)
			case res.Timeout():
				return Result{}, fmt.Errorf("%v: %w", id, rpc.ErrTimeout)
			case res.Terminated():
				return Result{}, fmt.Errorf("%v: shard stopped: %w", id, rpc.ErrUnavailable)
			default:
				return Result{}, fmt.Errorf("%v: proposal rejected or aborted: %w", id, rpc.ErrUnavailable)
			}
		case <-gen:
			// The request state stays with dragonboat, which completes
			// or times it out later; it is not released here.
			return Result{}, fmt.Errorf("%v: %w", id, ErrLeaderChanged)
		case <-ctx.Done():
			return Result{}, fmt.Errorf("%v: %w", id, rpc.ErrTimeout)
		case <-h.stop:
			return Result{}, fmt.Errorf("%v: server stopping: %w", id, rpc.ErrUnavailable)
		}
	}
}

// Read returns a view of shard id that reflects every write acknowledged
// before the call (Raft ReadIndex). A leader change during the read retries
// it: reads are safe to repeat.
func (h *Host) Read(ctx context.Context, id shard.ID) (any, error) {
	r, err := h.replica(id)
	if err != nil {
		return nil, err
	}
	return r.reads.read(ctx, id, func(ctx context.Context) (any, error) { return h.readIndex(ctx, r, id) })
}

// readIndex is one linearizable read: a ReadIndex round, retried while
// the shard has no leader, then the local view once applied that far.
func (h *Host) readIndex(ctx context.Context, r *replica, id shard.ID) (any, error) {
	started := time.Now()
	for attempt := 0; ; attempt++ {
		gen := r.gen()
		// A ReadIndex whose message or answer was lost would otherwise wait
		// out the whole call; reads are safe to repeat, so each attempt
		// gets about an election timeout.
		rs, err := h.nh.ReadIndex(uint64(id), min(timeoutFor(ctx), h.readAttempt()))
		if err != nil {
			if notAccepted(err) && h.backoff(ctx, started, attempt) {
				continue
			}
			return nil, h.mapErr(id, err)
		}
		select {
		case res := <-rs.ResultC():
			if res.Completed() {
				v, err := h.nh.ReadLocalNode(rs, nil)
				rs.Release()
				if err != nil {
					return nil, h.mapErr(id, err)
				}
				r.touch()
				return v, nil
			}
			rs.Release()
			if res.Timeout() && ctx.Err() == nil {
				// Lost in transit, not a leader problem: again at once.
				started, attempt = time.Now(), -1
				continue
			}
			if res.Timeout() {
				return nil, fmt.Errorf("%v: %w", id, rpc.ErrTimeout)
			}
			if res.Terminated() {
				return nil, fmt.Errorf("%v: shard stopped: %w", id, rpc.ErrUnavailable)
			}
		case <-gen:
		case <-ctx.Done():
			return nil, fmt.Errorf("%v: %w", id, rpc.ErrTimeout)
		case <-h.stop:
			return nil, fmt.Errorf("%v: server stopping: %w", id, rpc.ErrUnavailable)
		}
		if !h.backoff(ctx, started, attempt) {
			return nil, fmt.Errorf("%v: %w", id, rpc.ErrNoLeader)
		}
	}
}

// readAttempt bounds one ReadIndex round: twice the base election timeout.
func (h *Host) readAttempt() time.Duration {
	return time.Duration(2*h.cfg.ElectionRTT) * h.cfg.RTT
}

// StaleRead returns this replica's view without asking the leader.
func (h *Host) StaleRead(id shard.ID) (any, error) {
	r, err := h.replica(id)
	if err != nil {
		return nil, err
	}
	return r.m.View(), nil
}

func (r *replica) touch() {
	r.mu.Lock()
	r.lastContact = time.Now()
	r.mu.Unlock()
}

// Info tells the shard's leader, term, members and applied index as this
// replica knows them.
func (h *Host) Info(id shard.ID) (shard.Info, error) {
	r, err := h.replica(id)
	if err != nil {
		return shard.Info{}, err
	}
	info := shard.Info{ID: id, Applied: r.m.Applied()}
	leader, term, ok, err := h.nh.GetLeaderID(uint64(id))
	if err != nil {
		return info, h.mapErr(id, err)
	}
	if ok {
		info.Leader = shard.ReplicaID(leader)
		info.Term = term
		info.IsLeader = info.Leader == h.cfg.ReplicaID
	}
	for _, si := range h.nh.GetNodeHostInfo(dragonboat.NodeHostInfoOption{SkipLogInfo: true}).ShardInfoList {
		if si.ShardID != uint64(id) {
			continue
		}
		for rid := range si.Replicas {
			info.Replicas = append(info.Replicas, shard.ReplicaID(rid))
		}
		sort.Slice(info.Replicas, func(i, j int) bool { return info.Replicas[i] < info.Replicas[j] })
	}
	_, info.LastContact = h.Contact(id)
	return info, nil
}

// Contact returns the leader this replica knows (0 if none) and how long
// since the leader last confirmed it: 0 on the leader, negative if never.
// It takes no NodeHost-wide lock: stale reads call it on every answer.
func (h *Host) Contact(id shard.ID) (shard.ReplicaID, time.Duration) {
	r, ok := h.shards[id]
	if !ok {
		return 0, -1
	}
	r.mu.Lock()
	leader, last := r.leader, r.lastContact
	r.mu.Unlock()
	switch {
	case leader == h.cfg.ReplicaID:
		return leader, 0
	case last.IsZero():
		return leader, -1
	}
	return leader, time.Since(last)
}

// Stuck reports how long no shard of this host has completed a ReadIndex
// round (contactLoop tries one a second for each) while some shard still
// names a leader; 0 when one completed lately or no shard has a leader.
// Replicas cut off from a quorum lose their leader within an election
// timeout (CheckQuorum, PreVote); a host whose Raft work is blocked, as
// when its LogDB waits on a disk with no room, stays as it was.
func (h *Host) Stuck() time.Duration {
	latest, leader := h.started, false
	for _, r := range h.shards {
		r.mu.Lock()
		if r.lastContact.After(latest) {
			latest = r.lastContact
		}
		leader = leader || r.leader != 0
		r.mu.Unlock()
	}
	if !leader {
		return 0
	}
	return time.Since(latest)
}

// contactLoop confirms, about once a second, that each shard's leader still
// answers (a ReadIndex round), so stale reads can say how far behind they
// may be. One goroutine for all shards.
func (h *Host) contactLoop() {
	defer h.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		for id, r := range h.shards {
			rs, err := h.nh.ReadIndex(uint64(id), 900*time.Millisecond)
			if err != nil {
				continue
			}
			select {
			case res := <-rs.ResultC():
				if res.Completed() {
					r.touch()
				}
				rs.Release()
			case <-h.stop:
				return
			}
		}
	}
}

// Balance spreads shard leadership over the servers, one step at a time:
// when this server leads at least two shards fewer than the busiest one, it
// asks to take over one of that server's shards. The request goes from
// this replica, so the new leader is certainly alive; dragonboat forwards
// it to the current leader, which hands over once this replica's log has
// caught up. Writes proposed during the hand-over are dropped and retried.
// It returns the shard asked for, or false when nothing is to move (or some
// shard has no leader: balancing waits for a settled cluster).
func (h *Host) Balance() (shard.ID, bool) {
	me := h.cfg.ReplicaID
	count := map[shard.ReplicaID]int{}
	led := map[shard.ReplicaID][]shard.ID{}
	for _, si := range h.nh.GetNodeHostInfo(dragonboat.NodeHostInfoOption{SkipLogInfo: true}).ShardInfoList {
		for rid := range si.Replicas {
			count[shard.ReplicaID(rid)] += 0
		}
	}
	for _, id := range h.cfg.Shards {
		leader, _, ok, err := h.nh.GetLeaderID(uint64(id))
		if err != nil || !ok || leader == 0 {
			return 0, false
		}
		r := shard.ReplicaID(leader)
		count[r]++
		led[r] = append(led[r], id)
	}
	var donor shard.ReplicaID
	for r, n := range count {
		if n > count[donor] || (n == count[donor] && n > 0 && r < donor) {
			donor = r
		}
	}
	if donor == 0 || donor == me || count[donor]-count[me] < 2 {
		return 0, false
	}
	ids := led[donor]
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] }) // KV shards first
	if err := h.nh.RequestLeaderTransfer(uint64(ids[0]), uint64(me)); err != nil {
		return 0, false
	}
	h.log.Debug("asked to lead a shard", "shard", ids[0], "from", donor, "leads", count[me], "donor_leads", count[donor])
	return ids[0], true
}

// balanceLoop runs Balance every BalanceInterval, jittered so that servers
// started together do not all move at once.
func (h *Host) balanceLoop() {
	defer h.wg.Done()
	for {
		d := h.cfg.BalanceInterval + time.Duration(rand.Int64N(int64(h.cfg.BalanceInterval)/2+1))
		t := time.NewTimer(d)
		select {
		case <-h.stop:
			t.Stop()
			return
		case <-t.C:
		}
		h.Balance()
	}
}

// TransferLeader asks that replica target lead shard id: an operator's
// tool (and the tests'). Like Balance, it only starts the hand-over.
func (h *Host) TransferLeader(id shard.ID, target shard.ReplicaID) error {
	if _, err := h.replica(id); err != nil {
		return err
	}
	if err := h.nh.RequestLeaderTransfer(uint64(id), uint64(target)); err != nil {
		return h.mapErr(id, err)
	}
	return nil
}
