package kv

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxKeyLen is the longest key, in bytes.
const MaxKeyLen = 1024

// ValidateKey reports whether key may be stored: 1 to MaxKeyLen bytes of
// valid UTF-8, no leading '/', no NUL byte. The error wraps ErrInvalidKey and
// says what is wrong; it does not repeat the key, which may be long.
//
// Prefixes (List, OpDeleteTree) are not keys: any string is a valid prefix,
// the empty one included.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: %d bytes, max %d", ErrInvalidKey, len(key), MaxKeyLen)
	case key[0] == '/':
		return fmt.Errorf("%w: leading '/'", ErrInvalidKey)
	}
	if i := strings.IndexByte(key, 0); i >= 0 {
		return fmt.Errorf("%w: NUL byte at offset %d", ErrInvalidKey, i)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: not valid UTF-8 at offset %d", ErrInvalidKey, invalidUTF8At(key))
	}
	return nil
}

// invalidUTF8At returns the offset of the first byte of key that does not
// start a valid UTF-8 sequence.
func invalidUTF8At(key string) int {
	for i, r := range key {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(key[i:]); size == 1 {
				return i
			}
		}
	}
	return len(key)
}
