package pcapcheck

// prefetch asks the CPU to bring the cache line at addr closer; it never
// faults, whatever addr is.
func prefetch(addr uintptr)
