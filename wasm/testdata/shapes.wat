;; Valid: uses every encoding the module reader of binary.go and code.go
;; must step through (element and data segment forms, constant
;; expressions, typed blocks, br_table, typed select, bulk memory and
;; table instructions, SIMD immediates, named locals), so that reading
;; it cannot refuse what wazero accepts.
(module
  (type $pair (func (result i32 i32)))
  (type $unary (func (param i32) (result i32)))
  (import "meridian" "now_ms" (func $now (result i64)))
  (table $t 4 8 funcref)
  (table $u 2 externref)
  (table $t2 2 2 funcref)
  (memory 1 2)
  (global $g (mut i32) (i32.const -7))
  (global $h i64 (i64.const 0x7fffffffffff))
  (global $f32 f32 (f32.const 1.5))
  (global $f64 f64 (f64.const -2.25))
  (global $v v128 (v128.const i32x4 1 2 3 4))
  (global $r funcref (ref.func $id))
  (global $n externref (ref.null extern))
  (elem (i32.const 0) $id)                                 ;; flags 0
  (elem func $id $two)                                     ;; flags 1
  (elem (table $t2) (i32.const 1) func $two)               ;; flags 2
  (elem declare func $id)                                  ;; flags 3
  (elem (i32.const 2) funcref (ref.func $id) (ref.null func)) ;; flags 4
  (elem funcref (ref.null func) (ref.func $two))           ;; flags 5
  (elem (table $u) (i32.const 0) externref (ref.null extern)) ;; flags 6
  (elem declare funcref (ref.func $two) (ref.null func))   ;; flags 7
  (data (i32.const 0) "meridian")                          ;; flags 0
  (data "passive")                                         ;; flags 1
  (data (memory 0) (i32.const 16) "\01\02")                ;; flags 2
  (func $id (type $unary) (local.get 0))
  (func $two (type $pair) (i32.const 1) (i32.const 2))
  (func (export "check") (result i32)
    (local $i i32) (local $l i64) (local $x f32) (local $y f64) (local $w v128) (local $e externref)
    (block $out (result i32)
      (block $b (type $pair) (call $two))
      (drop)
      (drop)
      (loop $again
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $again (i32.lt_u (local.get $i) (i32.const 3))))
      (block $z
        (block $a
          (br_table $a $z $a (local.get $i))))
      (drop (select (result i64) (i64.const 1) (i64.const 2) (i32.const 0)))
      (drop (call_indirect $t (type $unary) (i32.const 5) (i32.const 0)))
      (memory.init 1 (i32.const 32) (i32.const 0) (i32.const 7))
      (data.drop 1)
      (memory.copy (i32.const 64) (i32.const 0) (i32.const 8))
      (memory.fill (i32.const 80) (i32.const 0) (i32.const 4))
      (table.init $t 1 (i32.const 2) (i32.const 0) (i32.const 1))
      (elem.drop 1)
      (table.copy $t $t (i32.const 3) (i32.const 0) (i32.const 1))
      (drop (table.size $u))
      (table.fill $u (i32.const 0) (ref.null extern) (i32.const 1))
      (drop (i32.trunc_sat_f32_s (local.get $x)))
      (drop (memory.size))
      (drop (i64.load offset=8 align=4 (i32.const 0)))
      (i32.store8 (i32.const 100) (i32.const 9))
      (local.set $w (v128.load (i32.const 0)))
      (local.set $w (v128.load8_lane 3 (i32.const 0) (local.get $w)))
      (local.set $w (v128.load32_zero (i32.const 0)))
      (local.set $w (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (local.get $w) (global.get $v)))
      (drop (i32x4.extract_lane 2 (local.get $w)))
      (v128.store (i32.const 128) (i32x4.add (local.get $w) (v128.const i64x2 1 2)))
      (drop (f64.add (local.get $y) (f64.const 0.5)))
      (drop (ref.is_null (local.get $e)))
      (drop (i64.extend32_s (i64.add (local.get $l) (call $now))))
      (global.set $g (i32.const 0))
      (global.get $g))))
