;; A reactor: _initialize runs once per instance. check passes on its
;; first run in an instance and warns on later ones, so tests can tell a
;; reused instance from a fresh one.
(module
  (global $inits (mut i32) (i32.const 0))
  (global $runs (mut i32) (i32.const 0))
  (func (export "_initialize")
    (global.set $inits (i32.add (global.get $inits) (i32.const 1))))
  (func (export "check") (result i32)
    (global.set $runs (i32.add (global.get $runs) (i32.const 1)))
    (if (i32.ne (global.get $inits) (i32.const 1))
      (then (return (i32.const 2))))
    (if (result i32) (i32.eq (global.get $runs) (i32.const 1))
      (then (i32.const 0))
      (else (i32.const 1)))))
