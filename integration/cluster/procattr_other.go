//go:build !linux

package cluster

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

func procState(int) string { return "" }

func processesRunning(string) ([]int, bool) { return nil, false }
