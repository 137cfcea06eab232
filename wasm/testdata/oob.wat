;; Hostile: reads past the end of its one page of memory.
(module
  (memory 1)
  (func (export "check") (result i32)
    (i32.load (i32.const 70000))))
