;; Hostile: traps with "unreachable".
(module
  (func $fail (unreachable))
  (func (export "check") (result i32)
    (call $fail)
    (i32.const 0)))
