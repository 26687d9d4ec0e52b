package health

import "reflect"

// Set makes jobs the Monitor's jobs, as a reload does: a job whose check
// is unchanged (spec, service, real, address and protocol) keeps its
// state, its run of results and its schedule, and probes with the new
// Target's Dialer from its next probe on; a changed job starts again from
// its Start (give it the state last reported to keep that); a job that is
// gone stops, and reports nothing after Set returns. Of two jobs with one
// ID, the first is run.
func (m *Monitor) Set(jobs []Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	next := make(map[string]*running, len(jobs))
	first := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		if first[j.ID] {
			continue
		}
		first[j.ID] = true
		if r, ok := m.jobs[j.ID]; ok && sameCheck(r.job, j) {
			r.target.Store(&j.Target)
			next[j.ID] = r
			delete(m.jobs, j.ID)
		}
	}
	m.stopAll()
	for _, j := range jobs {
		if _, ok := next[j.ID]; !ok {
			next[j.ID] = m.start(j)
		}
	}
	m.jobs = next
}

// sameCheck says whether b probes what a probes, the same way: only then
// does a reload keep a's state. The Dialer is left out: a reload makes new
// ones, and the path they take is the caller's to keep.
func sameCheck(a, b Job) bool {
	ta, tb := a.Target, b.Target
	if ta.Service != tb.Service || ta.Proto != tb.Proto || ta.Real != tb.Real || ta.addr() != tb.addr() {
		return false
	}
	sa, sb := a.Spec.WithDefaults(), b.Spec.WithDefaults()
	if (sa.Body == nil) != (sb.Body == nil) || (sa.Body != nil && sa.Body.String() != sb.Body.String()) {
		return false
	}
	sa.Body, sb.Body = nil, nil
	return reflect.DeepEqual(sa, sb)
}
