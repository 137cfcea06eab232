;; Declares a maximum of 2 pages and grows past it: memory.grow fails
;; within the module's own limit, which is not the sandbox's limit.
(module
  (memory 1 2)
  (func (export "check") (result i32)
    (drop (memory.grow (i32.sub (i32.const 2) (memory.size))))
    (if (i32.ne (memory.size) (i32.const 2))
      (then (return (i32.const 2))))
    (if (i32.ne (memory.grow (i32.const 1)) (i32.const -1))
      (then (return (i32.const 2))))
    (i32.const 0)))
