;; Invalid: imports its memory.
(module
  (import "env" "memory" (memory 1))
  (func (export "check") (result i32)
    (i32.const 0)))
