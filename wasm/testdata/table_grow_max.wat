;; Grows a table with a small declared maximum: valid. Asking for 2^32-16
;; more entries fails (-1) instead of allocating; growing by 8 works.
(module
  (table $t 1 16 funcref)
  (func (export "check") (result i32)
    (if (i32.ne (table.grow $t (ref.null func) (i32.const -16)) (i32.const -1))
      (then (return (i32.const 2))))
    (if (i32.ne (table.grow $t (ref.null func) (i32.const 8)) (i32.const 1))
      (then (return (i32.const 2))))
    (i32.const 0)))
