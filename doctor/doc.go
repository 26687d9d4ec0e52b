// Package doctor checks a running director or real server for what breaks
// L3 DSR silently: settings that let 'l3dsr apply' succeed and every
// client time out. Each finding says what is wrong, why it matters for
// DSR, and the command that fixes it. It reads the host through Host, so
// that each check runs in tests without root; it changes nothing and never
// prints (WriteReport writes what the CLI asks for). docs/doctor.md lists
// the checks.
package doctor
