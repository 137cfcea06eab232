;; Invalid: imports meridian.log with the wrong signature.
(module
  (import "meridian" "log" (func $log (param i32) (result i32)))
  (func (export "check") (result i32)
    (call $log (i32.const 0))))
