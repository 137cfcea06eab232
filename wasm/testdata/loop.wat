;; Hostile: loops forever.
(module
  (func (export "check") (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
