package raftnode

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lni/dragonboat/v4"

	"meridian/server/shard"
)

// Members returns the servers of the datacenter as this replica knows
// them: replica ID to Raft address, from the system shard's membership.
func (h *Host) Members() map[shard.ReplicaID]string {
	out := map[shard.ReplicaID]string{}
	for _, si := range h.nh.GetNodeHostInfo(dragonboat.NodeHostInfoOption{SkipLogInfo: true}).ShardInfoList {
		if si.ShardID != uint64(shard.System) {
			continue
		}
		for id, addr := range si.Replicas {
			out[shard.ReplicaID(id)] = addr
		}
	}
	return out
}

// ReplicaID is this server's replica ID in every shard.
func (h *Host) ReplicaID() shard.ReplicaID { return h.cfg.ReplicaID }

// AddServer adds the server at raftAddr to every shard and returns its
// replica ID: the one it already has if it is a member (so a retried join
// is safe), else one more than any ID the datacenter ever used. The new
// server then starts its replicas with Config.Join.
func (h *Host) AddServer(ctx context.Context, raftAddr string) (shard.ReplicaID, error) {
	m, err := h.membership(ctx, shard.System)
	if err != nil {
		return 0, err
	}
	var id, top uint64
	for rid, addr := range m.Nodes {
		if addr == raftAddr {
			id = rid
		}
		top = max(top, rid)
	}
	for rid := range m.Removed {
		top = max(top, rid)
	}
	if id == 0 {
		id = top + 1
	}
	for _, sid := range h.cfg.Shards {
		err := h.changeMembership(ctx, sid, func(m *dragonboat.Membership) (bool, func(ctx context.Context) error) {
			if addr, ok := m.Nodes[id]; ok {
				if addr != raftAddr {
					return false, func(context.Context) error {
						return fmt.Errorf("raftnode: replica %d of %v is at %s, not %s", id, sid, addr, raftAddr)
					}
				}
				return false, nil
			}
			return true, func(ctx context.Context) error {
				return h.nh.SyncRequestAddReplica(ctx, uint64(sid), id, raftAddr, m.ConfigChangeID)
			}
		})
		if err != nil {
			return 0, fmt.Errorf("raftnode: add %s to %v: %w", raftAddr, sid, err)
		}
	}
	return shard.ReplicaID(id), nil
}

// RemoveServer removes replica id from every shard. Removing a server that
// is not a member is not an error. Remove a server through another one: a
// replica that proposes its own removal may not learn that it committed.
func (h *Host) RemoveServer(ctx context.Context, id shard.ReplicaID) error {
	for _, sid := range h.cfg.Shards {
		err := h.changeMembership(ctx, sid, func(m *dragonboat.Membership) (bool, func(ctx context.Context) error) {
			if _, ok := m.Nodes[uint64(id)]; !ok {
				return false, nil
			}
			if len(m.Nodes) == 1 {
				return false, func(context.Context) error {
					return errors.New("raftnode: will not remove the last server of a shard")
				}
			}
			return true, func(ctx context.Context) error {
				return h.nh.SyncRequestDeleteReplica(ctx, uint64(sid), uint64(id), m.ConfigChangeID)
			}
		})
		if err != nil {
			return fmt.Errorf("raftnode: remove replica %d from %v: %w", id, sid, err)
		}
	}
	return nil
}

func (h *Host) membership(ctx context.Context, sid shard.ID) (*dragonboat.Membership, error) {
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, h.readAttempt())
		m, err := h.nh.SyncGetShardMembership(rctx, uint64(sid))
		cancel()
		if err == nil {
			return m, nil
		}
		if ctx.Err() != nil {
			return nil, h.mapErr(sid, ctx.Err())
		}
		if !retryMembership(err) {
			return nil, h.mapErr(sid, err)
		}
		pause(ctx, attempt)
	}
}

// changeMembership reads shard sid's membership, asks plan whether a
// change is needed and how to make it, and makes it, retrying when another
// change got in first or the shard is between leaders, until ctx ends.
func (h *Host) changeMembership(ctx context.Context, sid shard.ID, plan func(*dragonboat.Membership) (bool, func(context.Context) error)) error {
	for attempt := 0; ; attempt++ {
		m, err := h.membership(ctx, sid)
		if err != nil {
			return err
		}
		change, do := plan(m)
		if do == nil {
			return nil
		}
		if !change {
			return do(ctx) // the plan's refusal
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = do(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !retryMembership(err) {
			return h.mapErr(sid, err)
		}
		h.log.Debug("membership change: retrying", "shard", sid, "err", err)
		pause(ctx, attempt)
	}
}

// retryMembership: errors after which the same change may go through.
func retryMembership(err error) bool {
	return notAccepted(err) || errors.Is(err, dragonboat.ErrRejected) || errors.Is(err, dragonboat.ErrTimeout) ||
		errors.Is(err, dragonboat.ErrAborted) || errors.Is(err, context.DeadlineExceeded)
}

func pause(ctx context.Context, attempt int) {
	d := min(time.Duration(attempt+1)*50*time.Millisecond, time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// HandOff moves the leadership of every shard this server leads to another
// replica, waiting (within ctx) until each has moved: the first step of a
// graceful leave, so that no write in flight loses its leader. A shard
// whose leadership does not move is left to the removal itself.
func (h *Host) HandOff(ctx context.Context) {
	for _, sid := range h.cfg.Shards {
		for attempt := 0; ctx.Err() == nil; attempt++ {
			info, err := h.Info(sid)
			if err != nil || !info.IsLeader {
				break
			}
			var target shard.ReplicaID
			for _, r := range info.Replicas {
				if r != h.cfg.ReplicaID {
					target = r
					break
				}
			}
			if target == 0 || attempt == 20 {
				break
			}
			if attempt%5 == 0 {
				h.TransferLeader(sid, target)
			}
			pause(ctx, 1)
		}
	}
}
