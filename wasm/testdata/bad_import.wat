;; Invalid: imports a function outside the Meridian ABI.
(module
  (import "env" "foo" (func $foo))
  (func (export "check") (result i32)
    (call $foo)
    (i32.const 0)))
