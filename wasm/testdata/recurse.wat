;; Recurses without end, each frame holding ten locals: wazero's stack
;; ceiling ends it with a trap (critical), not the host's memory.
(module
  (func $down (param i32) (result i32)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (call $down (i32.add (local.get 0) (i32.const 1))))
  (func (export "check") (result i32)
    (call $down (i32.const 0))))
