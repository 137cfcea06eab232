;; Asks for 300 pages (18.75 MiB) at start, above the default limit of 256.
(module
  (memory 300)
  (func (export "check") (result i32)
    (i32.const 0)))
