;; Sets an output that is not valid UTF-8.
(module
  (import "meridian" "set_output" (func $set_output (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "ok \ff\fe done")
  (func (export "check") (result i32)
    (drop (call $set_output (i32.const 0) (i32.const 10)))
    (i32.const 0)))
