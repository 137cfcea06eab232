package server

import (
	"crypto/md5"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMetaChecksum(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadMeta(dir, "dc1", "s1", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := loadMeta(dir, "dc1", "s1", 2); err != nil {
		t.Fatalf("a record just written: %v", err)
	}
	path := filepath.Join(dir, metaFile)
	cases := []struct {
		name    string
		content string
		wantErr error
	}{
		{"edited", `{"version":1,"dc":"dc1","node":"s1","kv_shards":2,"checksum":"crc32c:1"}`, ErrCorruptDataDir},
		{"from before checksums", `{"version":1,"dc":"dc1","node":"s1","kv_shards":2}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := loadMeta(dir, "dc1", "s1", 2)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("loadMeta: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil {
				m, err := loadMeta(dir, "dc1", "s1", 2)
				if err != nil || m.Checksum == "" {
					t.Fatalf("the record did not get a checksum: %+v %v", m, err)
				}
			}
		})
	}
}

func TestCheckFlagFile(t *testing.T) {
	msg := []byte("a protobuf message")
	sum := md5.Sum(msg)
	good := append(append([]byte(nil), sum[8:]...), msg...)
	bad := append([]byte(nil), good...)
	bad[10] ^= 1
	cases := []struct {
		name    string
		content []byte
		wantErr error
	}{
		{"good", good, nil},
		{"damaged", bad, ErrCorruptDataDir},
		{"truncated", good[:5], ErrCorruptDataDir},
		{"cut short", good[:len(good)-3], ErrCorruptDataDir},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "raft", "dragonboat.ds")
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := checkDataDir(dir); !errors.Is(err, tc.wantErr) {
				t.Fatalf("checkDataDir: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestCheckDataDirNew(t *testing.T) {
	if err := checkDataDir(filepath.Join(t.TempDir(), "new")); err != nil {
		t.Fatalf("a directory that does not exist yet: %v", err)
	}
}

// A snapshot left unfinished by a crash (in snapshot-<index>.generating)
// is dragonboat's to remove, not an error; a finished one is checked.
func TestCheckDataDirSnapshots(t *testing.T) {
	cases := []struct {
		name    string
		dir     string
		wantErr error
	}{
		{"unfinished", "snapshot-0000000000000ADE-1.generating", nil},
		{"finished", "snapshot-0000000000000ADE", ErrCorruptDataDir},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			snap := filepath.Join(dir, "raft", "vm", "1", "snapshot-part-2", "snapshot-2-1", tc.dir)
			os.MkdirAll(snap, 0o755)
			if err := os.WriteFile(filepath.Join(snap, "snapshot-0000000000000ADE.gbsnap"), make([]byte, 100), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := checkDataDir(dir); !errors.Is(err, tc.wantErr) {
				t.Fatalf("checkDataDir: %v, want %v", err, tc.wantErr)
			}
		})
	}
}
