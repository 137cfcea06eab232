;; Hostile: grows its memory 16 pages at a time until refused, then claims
;; to pass (the runtime makes it critical).
(module
  (memory 1)
  (func (export "check") (result i32)
    (loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (i32.const 0)))
