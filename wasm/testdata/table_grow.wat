;; Grows a table that declares no maximum: table.grow could ask wazero for
;; 2^32 entries (32 GiB) at run time. Refused.
(module
  (table $t 1 funcref)
  (func (export "check") (result i32)
    (drop (table.grow $t (ref.null func) (i32.const -16)))
    (i32.const 0)))
