// The package's entry for `import { ... } from "@meridian/check"`.
export * from "./assembly/index";
