package gossip

import "errors"

// Errors returned by the package. Test for them with errors.Is.
var (
	// ErrInvalidConfig wraps every error returned by Config.Validate.
	ErrInvalidConfig = errors.New("gossip: invalid config")
	// ErrMetaTooLarge means the encoded Meta does not fit memberlist.MetaMaxSize.
	ErrMetaTooLarge = errors.New("gossip: node metadata too large")
	// ErrBadMeta means gossiped metadata could not be decoded.
	ErrBadMeta = errors.New("gossip: malformed node metadata")
	// ErrClosed is returned by calls on a pool that was closed or has left.
	ErrClosed = errors.New("gossip: pool closed")
	// ErrJoin means no address given to Join could be contacted.
	ErrJoin = errors.New("gossip: join failed")
	// ErrBroadcastTimeout means a metadata update or a leave message was not
	// fully broadcast in time. The change is applied locally and keeps
	// spreading (an update) or is reported as a failure by those that missed
	// it (a leave).
	ErrBroadcastTimeout = errors.New("gossip: timed out waiting for broadcast")
)

// IsTempError reports whether err is worth a retry: a failed join (nobody
// answered yet) or a broadcast that did not finish in time.
func IsTempError(err error) bool {
	return errors.Is(err, ErrJoin) || errors.Is(err, ErrBroadcastTimeout)
}
