package server

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"meridian/server/raftnode"
)

// ErrCorruptDataDir: a file of the data directory is damaged (truncated,
// or its checksum does not match). The server refuses to start rather
// than serve what is left: restore the directory from a backup, or, on a
// server of a cluster of several, remove it and let the server join again
// as a new member.
var ErrCorruptDataDir = errors.New("server: corrupt data directory")

// Start-up checks of a data directory (checkDataDir), for the files that
// dragonboat would otherwise either trust or fail on with a bare panic
// (a flag file with a bad checksum makes NewNodeHost return neither a
// host nor an error; a damaged snapshot panics a step worker once the
// replica is running):
//
//   - meridian.json: carries a checksum (metaChecksum) from this version on;
//   - dragonboat's flag files (dragonboat.ds, NODEHOST.ID,
//     snapshot.metadata): 8 bytes of MD5 then the message;
//   - snapshot files (*.gbsnap, format v2): a 1 KiB header, blocks of
//     2 MiB each followed by its CRC-32, and a 16-byte tail with the
//     blocks' total size and a magic number.
//
// The LogDB (Pebble) checks its own files when it opens them; its errors
// are passed on as they are, naming the file. Its write-ahead logs are
// scanned here for damage with good records after it (walcheck.go),
// which Pebble would drop silently.

// flagFiles are dragonboat's files written by fileutil.CreateFlagFile.
var flagFiles = map[string]bool{"dragonboat.ds": true, "NODEHOST.ID": true, "snapshot.metadata": true}

// snapshotFile matches dragonboat's snapshot-<index in hex>.gbsnap, and
// snapshotDir the directory of a finished snapshot. A snapshot being
// written or received lives in a directory with a suffix (.generating,
// .receiving) until it is complete; one left by a crash is not checked:
// dragonboat removes it at start-up.
var (
	snapshotFile = regexp.MustCompile(`^snapshot-[0-9A-F]{16}\.gbsnap$`)
	snapshotDir  = regexp.MustCompile(`^snapshot-[0-9A-F]{16}$`)
)

// checkDataDir verifies the files of dir's Raft data that dragonboat does
// not check safely itself.
func checkDataDir(dir string) error {
	root := filepath.Join(dir, "raft")
	// Only the newest snapshot of each replica is read whole: it is the
	// one a restart restores and a lagging follower is sent; older ones
	// wait to be removed. (The names' fixed-width hex index sorts them.)
	newest := map[string]string{} // replica's snapshot directory -> file
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist) && path == root:
			return fs.SkipAll // a new data directory
		case err != nil:
			return fmt.Errorf("server: read %s: %w", path, err)
		case d.IsDir():
			return nil
		case (d.Name() == "snapshot.metadata" || snapshotFile.MatchString(d.Name())) && !snapshotDir.MatchString(filepath.Base(filepath.Dir(path))):
			return nil // an unfinished snapshot
		case flagFiles[d.Name()]:
			return checkFlagFile(path)
		case snapshotFile.MatchString(d.Name()):
			parent := filepath.Dir(filepath.Dir(path))
			if path > newest[parent] {
				newest[parent] = path
			}
			return nil
		case strings.HasSuffix(d.Name(), ".log") && strings.HasPrefix(filepath.Base(filepath.Dir(path)), "logdb-"):
			return checkWAL(path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, path := range newest {
		if err := checkSnapshotFile(path); err != nil {
			return err
		}
	}
	return nil
}

// checkFlagFile verifies a dragonboat flag file: MD5(message)[8:16], then
// the message.
func checkFlagFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("server: read %s: %w", path, err)
	}
	if len(b) < 8 {
		return fmt.Errorf("%w: %s is truncated (%d bytes)", ErrCorruptDataDir, path, len(b))
	}
	sum := md5.Sum(b[8:])
	if !bytes.Equal(b[:8], sum[8:]) {
		return fmt.Errorf("%w: %s: checksum mismatch (the file is damaged or truncated)", ErrCorruptDataDir, path)
	}
	return nil
}

// The layout of a v2 snapshot file (dragonboat internal/rsm).
const (
	snapHeaderSize = 1024
	snapTailSize   = 16
	snapBlockSize  = 2 << 20
	snapCRCSize    = 4
)

var snapMagic = []byte{0x3F, 0x5B, 0xCB, 0xF1, 0xFA, 0xBA, 0x81, 0x9F}

// checkSnapshotFile verifies a snapshot file's size, tail and the CRC of
// every block.
func checkSnapshotFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("server: read %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("server: read %s: %w", path, err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: snapshot %s: %s", ErrCorruptDataDir, path, fmt.Sprintf(format, args...))
	}
	size := st.Size()
	if size < snapHeaderSize+snapTailSize {
		return corrupt("truncated (%d bytes)", size)
	}
	var hdr [8]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return corrupt("header: %v", err)
	}
	if n := binary.LittleEndian.Uint64(hdr[:]); n == 0 || n > snapHeaderSize-8 {
		return corrupt("header length %d is invalid", n)
	}
	var tail [snapTailSize]byte
	if _, err := f.ReadAt(tail[:], size-snapTailSize); err != nil {
		return corrupt("tail: %v", err)
	}
	payload := size - snapHeaderSize - snapTailSize
	if !bytes.Equal(tail[8:], snapMagic) || binary.LittleEndian.Uint64(tail[:8]) != uint64(payload) {
		return corrupt("truncated or damaged: its tail does not record its size (%d bytes of blocks)", payload)
	}
	r := io.NewSectionReader(f, snapHeaderSize, payload)
	block := make([]byte, snapBlockSize+snapCRCSize)
	for off := int64(0); off < payload; {
		n, err := io.ReadFull(r, block)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return corrupt("block at %d: %v", snapHeaderSize+off, err)
		}
		if n <= snapCRCSize {
			return corrupt("block at %d is truncated", snapHeaderSize+off)
		}
		data, sum := block[:n-snapCRCSize], block[n-snapCRCSize:]
		if binary.BigEndian.Uint32(sum) != crc32.ChecksumIEEE(data) {
			return corrupt("checksum mismatch in the block at byte %d", snapHeaderSize+off)
		}
		off += int64(n)
	}
	return nil
}

// metaChecksum is the checksum recorded in meridian.json: CRC-32C of the
// record's JSON without it.
func metaChecksum(m dataMeta) string {
	m.Checksum = ""
	b, _ := json.Marshal(m)
	return "crc32c:" + strconv.FormatUint(uint64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))), 16)
}

// verifyMeta checks a record read from path. A record from before
// checksums has none; it gets one (ok is false: the caller saves it).
func verifyMeta(path string, m dataMeta) (ok bool, err error) {
	if m.Checksum == "" {
		return false, nil
	}
	if want := metaChecksum(m); m.Checksum != want {
		return true, fmt.Errorf("%w: %s: checksum mismatch (records %s, content sums to %s): the file was damaged or edited by hand",
			ErrCorruptDataDir, path, m.Checksum, want)
	}
	return true, nil
}

// openRaft starts the Raft host after checking the data directory, and
// turns a panic of dragonboat while it opens its files into an error
// that says where to look.
func openRaft(dir string, rc raftnode.Config) (h *raftnode.Host, err error) {
	if err := checkDataDir(dir); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			h, err = nil, fmt.Errorf("%w: dragonboat failed to open the Raft data in %s (a file there may be damaged): %v",
				ErrCorruptDataDir, filepath.Join(dir, "raft"), r)
		}
	}()
	return raftnode.New(rc)
}
