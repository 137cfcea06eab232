package wasm

import (
	"fmt"
	"log/slog"
	"time"
)

// Default limits and caps (see DefaultConfig).
const (
	DefaultMaxModuleBytes = 8 << 20

	defaultMemoryPages     = 256 // 16 MiB
	defaultTimeout         = 10 * time.Second
	defaultMaxOutput       = 4 << 10
	defaultMaxNetworkBytes = 1 << 20

	capMemoryPages     = 1024 // 64 MiB
	capTimeout         = 5 * time.Minute
	capMaxOutput       = 64 << 10
	capMaxNetworkBytes = 16 << 20

	defaultMaxIdle = 8

	maxPages = 65536 // the WebAssembly 1.0 limit (4 GiB)
)

// Config configures a Runtime. The zero value of a field means its default
// (see DefaultConfig); New copies the Config and never writes into it.
type Config struct {
	// CacheDir holds compiled code on disk so a restart does not compile
	// modules again (wazero.NewCompilationCacheWithDir). "" keeps compiled
	// code in memory only.
	CacheDir string
	// Logger receives the guests' log calls and the runtime's own records.
	Logger *slog.Logger
	// Clock is the wall clock seen by guests (now_ms and WASI
	// clock_time_get(realtime)). Default time.Now.
	Clock func() time.Time
	// MaxModuleBytes is the largest module Validate and Load accept.
	// Default 8 MiB.
	MaxModuleBytes int
	// Defaults apply to checks that leave a limit at zero.
	Defaults Limits
	// Caps are the most a check may ask for: a larger limit is lowered to
	// the cap. Caps.MemoryPages is also the runtime-wide memory limit.
	Caps Limits
	// MaxIdle is the number of idle instances a Module keeps for reuse
	// (across all the checks that run it). Default 8; negative keeps none.
	MaxIdle int
}

// Limits bound one run of a check. A zero (or negative) field means "the
// default".
type Limits struct {
	// MemoryPages caps the guest's linear memory, in 64 KiB pages.
	// Default 256 (16 MiB), cap 1024 (64 MiB).
	MemoryPages uint32
	// Timeout is the wall-clock deadline of one run, instantiation and
	// network calls included. Default 10 s, cap 5 min.
	Timeout time.Duration
	// MaxOutput caps the output text, in bytes. Default 4 KiB, cap 64 KiB.
	MaxOutput int
	// MaxNetworkBytes caps the bytes one run may read from the network
	// (HTTP, TCP, DNS answers). Default 1 MiB, cap 16 MiB.
	MaxNetworkBytes int64
}

// DefaultConfig returns the configuration New uses for zero fields.
func DefaultConfig() Config {
	return Config{
		Logger:         slog.New(slog.DiscardHandler),
		Clock:          time.Now,
		MaxModuleBytes: DefaultMaxModuleBytes,
		Defaults: Limits{
			MemoryPages:     defaultMemoryPages,
			Timeout:         defaultTimeout,
			MaxOutput:       defaultMaxOutput,
			MaxNetworkBytes: defaultMaxNetworkBytes,
		},
		Caps: Limits{
			MemoryPages:     capMemoryPages,
			Timeout:         capTimeout,
			MaxOutput:       capMaxOutput,
			MaxNetworkBytes: capMaxNetworkBytes,
		},
		MaxIdle: defaultMaxIdle,
	}
}

// withDefaults returns a copy of c with zero fields taken from
// DefaultConfig. Defaults above a (possibly lowered) cap are lowered to it.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.Clock == nil {
		c.Clock = d.Clock
	}
	if c.MaxModuleBytes <= 0 {
		c.MaxModuleBytes = d.MaxModuleBytes
	}
	if c.MaxIdle == 0 {
		c.MaxIdle = d.MaxIdle
	}
	c.MaxIdle = max(c.MaxIdle, 0)
	c.Caps = c.Caps.or(d.Caps)
	c.Defaults = c.Defaults.or(d.Defaults).min(c.Caps)
	return c
}

// Validate reports whether the Config (after defaults are applied) is
// usable. New calls it.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Caps.MemoryPages > maxPages {
		return fmt.Errorf("%w: Caps.MemoryPages %d is above %d", ErrConfig, c.Caps.MemoryPages, maxPages)
	}
	return nil
}

// or fills the zero fields of l from d.
func (l Limits) or(d Limits) Limits {
	if l.MemoryPages == 0 {
		l.MemoryPages = d.MemoryPages
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	if l.MaxOutput <= 0 {
		l.MaxOutput = d.MaxOutput
	}
	if l.MaxNetworkBytes <= 0 {
		l.MaxNetworkBytes = d.MaxNetworkBytes
	}
	return l
}

// min lowers each field of l to the one of c.
func (l Limits) min(c Limits) Limits {
	l.MemoryPages = min(l.MemoryPages, c.MemoryPages)
	l.Timeout = min(l.Timeout, c.Timeout)
	l.MaxOutput = min(l.MaxOutput, c.MaxOutput)
	l.MaxNetworkBytes = min(l.MaxNetworkBytes, c.MaxNetworkBytes)
	return l
}
