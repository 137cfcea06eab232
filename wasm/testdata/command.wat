;; Exports _start, which the runtime never calls (it would trap).
(module
  (func (export "_start") (unreachable))
  (func (export "check") (result i32)
    (i32.const 0)))
