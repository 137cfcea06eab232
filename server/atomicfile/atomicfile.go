// Package atomicfile replaces small files so that a crash, a kill or a
// power loss leaves either the old content or the new, never a mix or an
// empty file. Servers and edges keep their own records with it (a data
// directory's identity, applied indexes, saved agent definitions, WASM
// modules).
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces the file at path with b. The bytes go to a temporary
// file in the same directory, which is synced, given perm and renamed over
// path; then the directory is synced so that the rename itself survives a
// power loss. On error path is untouched and the temporary file removed.
func Write(path string, b []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if _, err = f.Write(b); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// The new name is in place; a directory that cannot be synced (some
	// filesystems refuse) does not undo that.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
