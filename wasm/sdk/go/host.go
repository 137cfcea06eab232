package check

// host is the "meridian" host module, raw: each method is one function of
// the ABI, with slices for the (pointer, length) pairs. In a module
// (GOOS=wasip1) it is the real host (host_wasip1.go); the package's tests
// give a fake.
type host interface {
	setOutput(p []byte) int32
	log(level int32, p []byte) int32
	argsLen() int32
	argsRead(p []byte) int32
	nowMS() int64
	httpRequest(req, resp []byte) int32
	tcpConnect(addr, send, recv []byte, timeoutMS int32) int32
	dnsLookup(name, out []byte) int32
}
