;; Hostile: a reactor whose _initialize loops forever.
(module
  (func (export "_initialize") (loop $forever (br $forever)))
  (func (export "check") (result i32)
    (i32.const 0)))
