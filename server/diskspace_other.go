//go:build !unix

package server

import "errors"

// diskSpace is unknown here: the disk guard lets every write try.
func diskSpace(string) (free, size uint64, err error) {
	return 0, 0, errors.New("free disk space unknown on this platform")
}
