package health

import "time"

// Event is one probe's result of one job.
type Event struct {
	ID     string
	Result Result
	// State is the job's state after this result, and Changed says
	// whether this result changed it.
	State   State
	Changed bool
	// Since is when State began: the last change, or when the job started
	// when it has not changed since.
	Since time.Time
}
