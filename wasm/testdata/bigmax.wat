;; Declares a maximum memory of 4 GiB, above any cap: refused.
(module
  (memory 1 65536)
  (func (export "check") (result i32)
    (i32.const 0)))
