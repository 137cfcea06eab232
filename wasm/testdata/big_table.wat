;; Starts with 2^21 table entries (16 MiB when instantiated), above the cap.
(module
  (table 2097152 funcref)
  (func (export "check") (result i32)
    (i32.const 0)))
