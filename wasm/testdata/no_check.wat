;; Invalid: its entry point is not named check.
(module
  (func (export "run") (result i32)
    (i32.const 0)))
