//go:build !amd64

package pcapcheck

// prefetch does nothing here (amd64 has an instruction for it).
func prefetch(addr uintptr) {}
