package check

import (
	"encoding/json"
	"fmt"
	"time"
)

// Status is a check's result, the Nagios plugin convention of the ABI.
type Status int32

const (
	Passing  Status = 0
	Warning  Status = 1
	Critical Status = 2
)

func (s Status) String() string {
	switch s {
	case Passing:
		return "passing"
	case Warning:
		return "warning"
	case Critical:
		return "critical"
	}
	return fmt.Sprintf("Status(%d)", int32(s))
}

// Func is a health check: it looks at something through c and says how it
// is. A status other than Passing, Warning and Critical counts as
// critical. A panic ends the run critical, with the panic in the output,
// and the next run gets a fresh instance of the module.
type Func func(c *Context) Status

// registered is the check the module's `check` export runs.
var registered Func

// Register sets the function the module's `check` export calls at every
// run. Call it from an init function (or a package variable's
// initializer): a module built with -buildmode=c-shared runs its package
// initializers, never main. A later Register replaces an earlier one.
func Register(f Func) { registered = f }

// run is the `check` export: one run of the registered check on h.
func run(h host) Status {
	c := &Context{h: h}
	if registered == nil {
		c.Output("check: no check registered: call check.Register from an init function")
		return Critical
	}
	return registered(c)
}

// Context is one run's access to the sandbox: its arguments, its output,
// the agent's log and clock, and the network calls its grants allow. It
// is valid during the run it was given to.
type Context struct {
	h    host
	args []byte
	read bool
}

// RawArgs returns the check's arguments, the JSON given when the check was
// registered (nil when there are none).
func (c *Context) RawArgs() []byte {
	if !c.read {
		c.read = true
		if n := c.h.argsLen(); n > 0 {
			buf := make([]byte, n)
			if got := c.h.argsRead(buf); got >= 0 {
				c.args = buf[:got]
			}
		}
	}
	return c.args
}

// Args decodes the check's JSON arguments into v, as json.Unmarshal does.
// With no arguments v is left as it is, so set its defaults first.
func (c *Context) Args(v any) error {
	raw := c.RawArgs()
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("check: arguments: %w", err)
	}
	return nil
}

// Output sets the check's output text, replacing what an earlier call
// set. The runtime cuts it to the check's output cap (4 KiB by default)
// and appends its own notes (refused calls and the like).
func (c *Context) Output(text string) {
	c.h.setOutput([]byte(text))
}

// Outputf sets the output with fmt.Sprintf(format, args...).
func (c *Context) Outputf(format string, args ...any) {
	c.Output(fmt.Sprintf(format, args...))
}

// Level is a log record's level.
type Level int32

const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// Log writes a record to the agent's log (cut to 1 KiB; at most 32 per
// run, after which it returns ErrLimit).
func (c *Context) Log(level Level, msg string) error {
	if code := c.h.log(int32(level), []byte(msg)); code < 0 {
		return codeError("log", "", code)
	}
	return nil
}

// Logf logs fmt.Sprintf(format, args...).
func (c *Context) Logf(level Level, format string, args ...any) error {
	return c.Log(level, fmt.Sprintf(format, args...))
}

// Now is the agent's wall clock (time.Now gives the same).
func (c *Context) Now() time.Time {
	return time.UnixMilli(c.h.nowMS())
}

// millis is d in whole milliseconds, rounded up so that a positive
// duration never becomes 0 ("no timeout of its own").
func millis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
