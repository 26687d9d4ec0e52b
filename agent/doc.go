// Package agent is `l3dsr agent`: one long-running process per host that
// keeps the host at its config file and, on a director, keeps each service's
// traffic on the real servers that answer.
//
//   - It applies the file as `l3dsr apply` does (the same plan), again on
//     reload (SIGHUP), and every repair interval looks for drift (a VIP, a
//     mark or a rule removed by hand) and repairs it, logging each change.
//     Drift repair leaves weights alone: a weight is the operator's
//     (`director real edit`, `drain`) or the health checks'.
//   - It probes every real of a service that has a health check (package
//     health), along the DSR path where the mode has one (internal/probe).
//     A real that fails `fall` probes in a row is quiesced (weight 0) or
//     removed; after `rise` good ones it gets its weight back, unless
//     someone else changed the weight meanwhile. With every real of a
//     service down, its sorry real takes the traffic.
//   - It serves /metrics (package metrics) and tells systemd it is ready
//     and alive (sd_notify, watchdog).
//   - On stop it leaves the data path as it is, unless the file says
//     on_stop: teardown.
//
// What it did to weights survives a restart in its state file, so that a
// restarted agent neither forgets a real it quiesced nor quiesces one that
// is fine.
package agent
