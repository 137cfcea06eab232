;; Invalid: check takes a parameter.
(module
  (func (export "check") (param i32) (result i32)
    (local.get 0)))
