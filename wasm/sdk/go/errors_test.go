package check

import (
	"errors"
	"testing"
)

func TestCodeError(t *testing.T) {
	for _, tc := range []struct {
		code      int32
		sentinel  error
		temporary bool
	}{
		{-1, ErrDenied, false},
		{-2, ErrTimeout, true},
		{-3, ErrNetwork, true},
		{-4, ErrTooSmall, false},
		{-5, ErrInvalid, false},
		{-6, ErrLimit, false},
		{-42, ErrBadAnswer, false},
	} {
		err := codeError("tcp_connect", "127.0.0.1:6379", tc.code)
		if !errors.Is(err, tc.sentinel) || IsTemporary(err) != tc.temporary {
			t.Errorf("%d: %v (temporary %v)", tc.code, err, IsTemporary(err))
		}
	}
	if got := codeError("tcp_connect", "127.0.0.1:6379", -1).Error(); got != "tcp_connect 127.0.0.1:6379: check: not granted" {
		t.Errorf("message %q", got)
	}
	if got := codeError("log", "", -6).Error(); got != "log: check: run limit reached" {
		t.Errorf("message %q", got)
	}
}
