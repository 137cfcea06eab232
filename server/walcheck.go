package server

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// checkWAL looks for damage inside a LogDB write-ahead log (Pebble's
// record format, under dragonboat). Pebble replays the newest log up to
// its first bad chunk and takes that for the torn tail a crash leaves,
// dropping the rest without a word. A crash can only tear the end: a bad
// chunk followed by a good chunk of the same log is damage, and the
// records after it would be lost. That is refused here. A log cut short
// cannot be told from a crash's torn tail by its content, and passes.
//
// The format: 32 KiB blocks of chunks; a chunk is a masked CRC-32C
// (4 bytes, over type, log number and payload), a payload length (2), a
// type (1: 5-8 are "recyclable" chunks followed by the log number, 4),
// then the payload; an all-zero header ends the block's chunks; a chunk
// of another log number is a recycled file's old content or the writer's
// end marker: the end of this log.
func checkWAL(path string) error {
	num, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), ".log"), 10, 64)
	if err != nil {
		return nil // not a log of Pebble's naming
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("server: read %s: %w", path, err)
	}
	bad := -1 // offset of the first bad chunk
	for block := 0; block < len(b); block += walBlockSize {
		end := min(block+walBlockSize, len(b))
		for pos := block; pos+walLegacyHeader <= end; {
			sum := binary.LittleEndian.Uint32(b[pos:])
			length := int(binary.LittleEndian.Uint16(b[pos+4:]))
			typ := b[pos+6]
			if sum == 0 && length == 0 && typ == 0 {
				break // zeros: the rest of the block is unused
			}
			header := walLegacyHeader
			if typ >= 5 && typ <= 8 {
				header = walRecyclableHeader
				if pos+header > end {
					break
				}
				if uint64(binary.LittleEndian.Uint32(b[pos+7:])) != num&0xffffffff {
					return nil // the end of this log (after a bad chunk: its torn tail)
				}
			}
			if typ < 1 || typ > 8 || pos+header+length > end ||
				walCRC(b[pos+6:pos+header+length]) != sum {
				if bad < 0 {
					bad = pos
				}
				break // lengths past a bad header mean nothing: next block
			}
			if bad >= 0 {
				return fmt.Errorf("%w: write-ahead log %s is damaged at byte %d, and good records of it follow at byte %d: they would be dropped",
					ErrCorruptDataDir, path, bad, pos)
			}
			pos += header + length
		}
	}
	return nil
}

const (
	walBlockSize        = 32 << 10
	walLegacyHeader     = 7
	walRecyclableHeader = walLegacyHeader + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// walCRC is Pebble's masked CRC-32C.
func walCRC(b []byte) uint32 {
	c := crc32.Update(0, castagnoli, b)
	return (c>>15 | c<<17) + 0xa282ead8
}
